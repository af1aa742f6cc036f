"""The dates SillyTavern has written in chat files over its versions, read as UTC moments.

Pure. Shapes (shared spec "operations and formats", section 1.2): ISO 8601 (1.15+), local
time as `June 19, 2023 2:20pm` (up to 1.14), `2024-07-12@01h31m37s123ms` (file names and
some exports), and Unix time as a number or a string of digits. A time without a zone
cannot be placed anywhere better, so it is taken as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_HUMANIZED = re.compile(
    r"^(\d{4})-(\d{1,2})-(\d{1,2})\s*@\s*(\d{1,2})h\s*(\d{1,2})m\s*(\d{1,2})s(?:\s*(\d{1,3})\s*ms)?$"
)
_WORDS = re.compile(
    r"^([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})"
    r"(?:,?\s*(?:at\s+)?(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([ap])\.?\s*m\.?)?$",
    re.IGNORECASE,
)
_DIGITS = re.compile(r"^-?\d+(?:\.\d+)?$")
MILLISECONDS_FROM = 100_000_000_000
"""A Unix time above this is in milliseconds (as JavaScript's Date.now() gives): in seconds
it would be past the year 5000, in milliseconds it is after March 1973."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_send_date(value: object) -> datetime | None:
    """The moment `value` names, in UTC; None when it is missing or no known shape."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return _from_unix(value)
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())
    if not text:
        return None
    if _DIGITS.match(text):
        return _from_unix(float(text))
    return _iso(text) or _humanized(text) or _in_words(text)


def _from_unix(number: float) -> datetime | None:
    try:
        seconds = number / 1000 if abs(number) >= MILLISECONDS_FROM else number
        return _EPOCH + timedelta(seconds=seconds)
    except (OverflowError, ValueError):  # past the year 9999, or not a number (NaN)
        return None


def _iso(text: str) -> datetime | None:
    try:
        return _utc(datetime.fromisoformat(text.replace("z", "Z")))
    except (ValueError, OverflowError):  # not ISO; or moved by its offset past year 1 or 9999
        return None


def _humanized(text: str) -> datetime | None:
    found = _HUMANIZED.match(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, millis = found.groups()
    day_part = (int(year), int(month), int(day))
    return _built(day_part, (int(hour), int(minute), int(second)), int(millis or 0) * 1000)


def _in_words(text: str) -> datetime | None:
    found = _WORDS.match(text)
    if found is None:
        return None
    month_name, day, year, hour, minute, second, half = found.groups()
    month = _month(month_name.lower())
    if month is None:
        return None
    hours = int(hour or 0)
    if half is not None:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if half.lower() == "p" else 0)
    clock = (hours, int(minute or 0), int(second or 0))
    return _built((int(year), month, int(day)), clock, 0)


def _month(word: str) -> int | None:
    """1 to 12 for a month's English name or its abbreviation ("Jun", "Sept"), else None."""
    if len(word) < 3:
        return None
    return next((i for i, name in enumerate(_MONTHS, start=1) if name.startswith(word)), None)


def _built(day: tuple[int, int, int], clock: tuple[int, int, int], micro: int) -> datetime | None:
    try:
        return datetime(*day, *clock, micro, tzinfo=UTC)
    except ValueError:  # 31 February, 25 o'clock
        return None


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
