"""Filters that turn a value into a literal of one language, for the snippet templates.

Snippets are rendered without HTML escaping (they are text files); these filters do each language's quoting.
"""

from __future__ import annotations

import json
import re
import shlex

from django import template

register = template.Library()

_BARE_DOTENV = re.compile(r"^[A-Za-z0-9_.@:/+-]*$")


@register.filter
def py(value: object) -> str:
    """A Python string literal (a JSON string is one, with double quotes)."""
    return json.dumps(str(value))


@register.filter
def js(value: object) -> str:
    return json.dumps(str(value))


@register.filter
def csharp(value: object) -> str:
    # C# regular string literals take the same escapes as JSON (\" \\ \n \uXXXX).
    return json.dumps(str(value))


@register.filter
def sh(value: object) -> str:
    return shlex.quote(str(value))


def _single_quoted_backslash(value: object) -> str:
    # PHP and Ruby single-quoted strings: only \\ and \' are escapes.
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


@register.filter
def php(value: object) -> str:
    return _single_quoted_backslash(value)


@register.filter
def ruby(value: object) -> str:
    return _single_quoted_backslash(value)


@register.filter
def dotenv(value: object) -> str:
    """A .env value, read the same by python-dotenv, phpdotenv (Laravel) and Node's dotenv."""
    text = str(value)
    if _BARE_DOTENV.match(text):
        return text
    if "'" not in text and "\n" not in text:
        return f"'{text}'"  # single quotes: no escapes, no ${...} interpolation
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$").replace("\n", "\\n")
    return f'"{escaped}"'


@register.filter
def properties(value: object) -> str:
    """A Java .properties value: backslashes, leading spaces and non-Latin-1 characters escaped."""
    out = []
    for i, char in enumerate(str(value)):
        if char == "\\":
            out.append("\\\\")
        elif char == " " and i == 0:
            out.append("\\ ")
        elif char in "\n\r\t\f":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\f": "\\f"}[char])
        elif ord(char) > 0xFF or ord(char) < 0x20:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)
