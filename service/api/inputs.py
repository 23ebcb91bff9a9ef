"""The one validation layer for free text and date-times that clients send, as pydantic types
that schemas, query parameters and form fields share, so each rule lives in one place:

- PlainText / MultilineText: stripped, never empty or whitespace-only, no control characters
  (NUL included: PostgreSQL refuses it in text), no lone surrogates, no bidirectional
  embedding, override or isolate controls (they make a name display as something else);
  MultilineText allows line breaks and tabs. The 422 names the field and the character.
- Instant: an ISO-8601 date-time (never a bare number) inside DATE_WINDOW, answered in UTC.
  Dates outside it (year 1 or 9999) overflowed the arithmetic downstream into 500s."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field

from service.api.errors import InvalidInput

DATE_WINDOW = (datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\n\r\t")
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters, lone surrogates


def _refused_character(text: str, multiline: bool) -> str | None:
    for char in text:
        if multiline and char in _LINE_BREAKS:
            continue
        if char in _BIDI_CONTROLS or unicodedata.category(char) in _REFUSED_CATEGORIES:
            return char
        if not multiline and char in "\u2028\u2029":
            return char
    return None


def clean_text(text: str, *, multiline: bool = False) -> str:
    """`text` without surrounding whitespace; ValueError when it is empty or holds a refused
    character."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("must not be empty or only whitespace")
    refused = _refused_character(stripped, multiline)
    if refused is not None:
        name = unicodedata.name(refused, "control character")
        raise ValueError(f"must not contain U+{ord(refused):04X} ({name})")
    return stripped


def _single_line(text: str) -> str:
    return clean_text(text)


def _multiline(text: str) -> str:
    return clean_text(text, multiline=True)


def PlainText(max_length: int, **field) -> type[str]:  # noqa: N802 (a type, used like one)
    """A one-line text field of at most `max_length` characters (after stripping)."""
    return Annotated[str, AfterValidator(_single_line), Field(max_length=max_length, **field)]


def MultilineText(max_length: int, **field) -> type[str]:  # noqa: N802
    """PlainText that may hold line breaks and tabs (descriptions)."""
    return Annotated[str, AfterValidator(_multiline), Field(max_length=max_length, **field)]


def _iso_only(value):
    # pydantic would read 1700000000 (a JSON number or a numeric string) as a Unix time; the
    # API promises ISO-8601 only
    numeric = isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.\d*)?\s*", value)
    if numeric or isinstance(value, (int, float)):
        raise ValueError("use an ISO-8601 date-time such as 2026-05-01T00:00:00Z, not a number")
    return value


def in_date_window(value: datetime) -> datetime:
    """`value` in UTC (naive values are UTC) when inside DATE_WINDOW, else ValueError. The
    naive wall time is checked first, with a day's margin, so that converting a time such as
    0001-01-01T00:00:00+14:00 to UTC cannot overflow."""
    low, high = DATE_WINDOW
    wall = value.replace(tzinfo=None)
    margin = timedelta(days=1)
    if not (low.replace(tzinfo=None) - margin <= wall <= high.replace(tzinfo=None) + margin):
        raise ValueError(_outside_window())
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not low <= utc < high:
        raise ValueError(_outside_window())
    return utc


def _outside_window() -> str:
    low, high = DATE_WINDOW
    return f"must be from {low:%Y-%m-%d} up to {high:%Y-%m-%d} (UTC)"


Instant = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(in_date_window)]


def parse_instant(name: str, text: str) -> datetime:
    """An Instant read from a form field or query value outside pydantic's request parsing
    (what datetime.fromisoformat reads, e.g. `2026-05-01 12:30`); InvalidInput (422) naming
    `name` when it is not one."""
    text = text.strip()
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} {text[:64]!r} is not an ISO-8601 date-time, e.g. 2026-05-01T12:30:00Z") from None
    try:
        return in_date_window(parsed)
    except ValueError as error:
        raise InvalidInput(f"{name} {text[:64]!r} {error}") from None
