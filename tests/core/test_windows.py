"""UTC days and months, and the words for a wait and a reset that quota refusals use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.core.errors import QuotaReached, user_message
from bot.core.windows import Windows, reset_words, wait_words


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0.2, "1 s"),
        (40, "40 s"),
        (60, "60 s"),
        (61, "2 min"),
        (3600, "1 h"),
        (3 * 3600 + 12 * 60, "3 h 12 min"),
        (3 * 3600 + 11 * 60 + 1, "3 h 12 min"),
        (86_400, "1 day"),
        (8 * 86_400 + 3 * 3600, "8 days 3 h"),
    ],
)
def test_a_wait_is_said_rounded_up(seconds: float, words: str) -> None:
    """Never "0 s", never less than the real wait."""
    assert wait_words(seconds) == words


def test_a_month_ends_at_the_next_months_first_midnight_in_utc() -> None:
    """New Year's Eve at 23:00 at UTC-3 is already January in UTC."""
    windows = Windows.around(datetime(2026, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-3))))

    assert windows.month_start == datetime(2027, 1, 1, tzinfo=UTC)
    assert windows.month_end == datetime(2027, 2, 1, tzinfo=UTC)


def test_a_reset_is_said_absolute_and_relative() -> None:
    """A month's reset names its date; a day's, the hour."""
    resets = datetime(2026, 12, 1, tzinfo=UTC)

    assert reset_words(resets, monthly=True, wait_seconds=7200) == (
        "on 2026-12-01 at 00:00 UTC, in 2 h"
    )
    assert reset_words(resets, monthly=False, wait_seconds=59) == "at 00:00 UTC, in 59 s"


def test_a_server_limit_set_by_its_admins_says_so() -> None:
    """The line names the place as the platform calls it, and who set the limit."""
    exc = QuotaReached(
        limit="server_tokens_per_month",
        allowed=1_000_000,
        resets_at=datetime(2026, 12, 1, tzinfo=UTC),
        wait_seconds=3 * 86_400,
        place="group",
        by_admins=True,
    )

    assert user_message(exc) == (
        "This group has reached its limit of 1,000,000 tokens per month (set by this group's "
        "admins); it resets on 2026-12-01 at 00:00 UTC, in 3 days."
    )
