"""The speaker's name in bold at the head of a reply, where the platform cannot show who
speaks (the bot's own account, a Telegram group), and the room it leaves in a message."""

from __future__ import annotations

import dataclasses

from bot.core.domain import PlatformLimits


def speaker_heading(speaker: str | None) -> str:
    """`**Alice:** ` for a character named Alice; nothing when no one in particular speaks."""
    return f"**{speaker}:** " if speaker else ""


def headed(text: str, speaker: str | None) -> str:
    """`text` as the speaker says it."""
    return speaker_heading(speaker) + text


def room_under(heading: str, limits: PlatformLimits) -> PlatformLimits:
    """The limits a reply's text works to when its first message starts with `heading`,
    measured as the platform measures (Telegram counts UTF-16 units)."""
    if not heading:
        return limits
    return dataclasses.replace(limits, max_length=limits.max_length - limits.measure(heading))
