"""The records table's words for when a record was checked."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from domains.templatetags.domain_words import ago


def test_a_check_within_the_minute_was_just_now_not_zero_minutes_ago() -> None:
    assert ago(timezone.now() - timedelta(seconds=59)) == "just now"


def test_an_older_check_says_how_long_ago() -> None:
    assert ago(timezone.now() - timedelta(minutes=5, seconds=10)) == "5\xa0minutes ago"


def test_no_check_says_nothing() -> None:
    assert ago(None) == ""
