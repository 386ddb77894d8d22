"""Small template filters of the accounts pages."""

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def minutes(value: timedelta | None) -> str:
    """A timedelta in words a person reads at a glance: "15 minutes", "1 hour"."""
    if not isinstance(value, timedelta):
        return "a few minutes"
    total = max(1, round(value.total_seconds() / 60))
    if total % 60 == 0:
        hours = total // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{total} minute{'s' if total != 1 else ''}"
