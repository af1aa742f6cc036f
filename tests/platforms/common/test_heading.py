from __future__ import annotations

from bot.core.domain import PlatformLimits, count_utf16_units
from bot.platforms.common.heading import headed, room_under, speaker_heading

LIMITS = PlatformLimits(max_length=100, writes_per_window=1, window_seconds=1.0)


def test_a_character_is_named_in_bold_and_no_one_is_not() -> None:
    """A reply from Alice reads "**Alice:** …"; one from no character has no heading."""
    assert headed("Hello.", "Alice") == "**Alice:** Hello."
    assert headed("Hello.", None) == "Hello."
    assert speaker_heading("") == ""


def test_the_heading_takes_its_room_as_the_platform_counts() -> None:
    """A heading with a character outside the BMP costs Telegram two units for it."""
    heading = speaker_heading("🦊")
    utf16 = PlatformLimits(100, 1, 1.0, measure=count_utf16_units)
    assert room_under(heading, LIMITS).max_length == 100 - len(heading)
    assert room_under(heading, utf16).max_length == 100 - len(heading) - 1
    assert room_under("", LIMITS) is LIMITS
