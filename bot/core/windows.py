"""UTC days and months as time windows: what /usage totals over and token quotas reset on.

Days and months are UTC for everyone: a server's people live in many zones, and a month
must end at the same instant for all of them. Pure: no clock is read here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True, slots=True)
class Windows:
    """Today's and this month's bounds in UTC, as [start, end)."""

    day_start: datetime
    day_end: datetime
    month_start: datetime
    month_end: datetime

    @classmethod
    def around(cls, now: datetime) -> Windows:
        now = now.astimezone(UTC)
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month_start = day_start.replace(day=1)
        month_end = (month_start + timedelta(days=32)).replace(day=1)
        return cls(day_start, day_start + timedelta(days=1), month_start, month_end)


def wait_words(seconds: float) -> str:
    """40 s, 60 s, 5 min, 3 h 12 min, 8 days 3 h: rounded up, so "in 0 s" is never said."""
    whole = max(1, math.ceil(seconds))
    if whole <= 60:
        return f"{whole} s"
    minutes = math.ceil(whole / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    day_words = f"{days} day{'' if days == 1 else 's'}"
    return f"{day_words} {hours} h" if hours else day_words


def reset_words(resets_at: datetime, *, monthly: bool, wait_seconds: float) -> str:
    """When a day's or a month's count starts again, absolute (UTC) and relative:
    "at 00:00 UTC, in 3 h 12 min", "on 2026-12-01 at 00:00 UTC, in 8 days 3 h"."""
    at = resets_at.astimezone(UTC)
    when = f"on {at:%Y-%m-%d} at {at:%H:%M} UTC" if monthly else f"at {at:%H:%M} UTC"
    return f"{when}, in {wait_words(wait_seconds)}"
