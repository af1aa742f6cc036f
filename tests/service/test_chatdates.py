"""Every date shape SillyTavern has written, read as the same UTC moment."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.service.chatdates import parse_send_date

EVENING = datetime(2024, 6, 5, 21, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "written",
    [
        "2024-06-05T21:15:00.000Z",  # 1.15+: toISOString()
        "2024-06-05T23:15:00+02:00",  # ISO with an offset
        "2024-06-05 21:15:00",  # ISO without a zone: taken as UTC
        "June 5, 2024 9:15pm",  # up to 1.14: local time in words
        "June 5, 2024 9:15 PM",
        "Jun 5, 2024 at 9:15 p.m.",
        "2024-06-05@21h15m00s",  # humanized, as in file names
        "2024-06-05 @21h 15m 0s 0ms",
        1717622100000,  # Unix milliseconds (Date.now())
        1717622100,  # Unix seconds
        "1717622100000",  # the same, as text
        1717622100000.0,
    ],
)
def test_each_shape_names_the_same_moment(written: object) -> None:
    """Whatever the version wrote, the moment is 21:15 UTC on 5 June 2024."""
    assert parse_send_date(written) == EVENING


def test_milliseconds_of_a_humanized_date_are_kept() -> None:
    """`…s512ms` is 512 ms, and `…s5ms` is 5, not 500."""
    assert parse_send_date("2023-02-01@18h02m11s512ms") == datetime(
        2023, 2, 1, 18, 2, 11, 512_000, tzinfo=UTC
    )
    assert parse_send_date("2023-02-01@18h02m11s5ms") == datetime(
        2023, 2, 1, 18, 2, 11, 5_000, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "written",
    [
        None,
        True,
        "",
        "   ",
        "yesterday",
        "June 31, 2024 9:15pm",  # no such day
        "June 5, 2024 13:15pm",  # no such hour
        "Juno 5, 2024 9:15pm",
        1e300,  # past the year 9999
        10**400,  # past what a float holds
        "9999-12-31T23:59:59-05:00",  # in UTC, past the year 9999
        "0001-01-01T00:00:00+05:00",  # in UTC, before the year 1
        float("nan"),
        {"date": 1},
    ],
)
def test_no_usable_date_is_none(written: object) -> None:
    """Missing or unreadable dates give None, never an error: the importer dates them."""
    assert parse_send_date(written) is None
