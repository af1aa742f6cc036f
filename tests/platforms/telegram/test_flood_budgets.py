"""The write budgets the bot gives Telegram chats, on a virtual clock, against the fake's model
of Telegram's flood limits: minutes of nonstop writes draw no 429.

These carry the rate rules that end-to-end tests could only show by writing for minutes of
real time (a group's 20 writes a minute needs more than 20 writes to be tested at all).
"""

from __future__ import annotations

import asyncio

from bot.app import platform_pacing
from bot.core.domain import ChannelKey, PlatformLimits
from bot.platforms.telegram.replier import GROUP_LIMITS, PRIVATE_LIMITS
from bot.reply.pacing import Pacing
from tests.fakes.clock import FakeClock
from tests.fakes.telegram.limits import FloodLimits, RateLimitEvent

GROUP = -100777
PRIVATE = 5001


async def write(
    pacing: Pacing, flood: FloodLimits, clock: FakeClock, chat: str, limits: PlatformLimits
) -> RateLimitEvent | None:
    """One write as the bot makes it: wait for the chat's budget, then Telegram judges it."""
    await pacing.budget_for(ChannelKey("telegram", chat), limits).spend(clock)
    return flood.admit("editMessageText", int(chat.partition(":")[0]))


async def test_a_group_written_to_for_minutes_stays_within_twenty_writes_a_minute() -> None:
    """Sixty writes in a row in one group: spread over three minutes, none refused."""
    clock = FakeClock(auto=True)
    pacing, flood = platform_pacing(clock), FloodLimits(clock.now)
    refused = [await write(pacing, flood, clock, str(GROUP), GROUP_LIMITS) for _ in range(60)]
    assert [event for event in refused if event] == []
    assert clock.now() >= 120.0  # the limit was reached, and waited for, twice over


async def test_forum_topics_share_their_groups_twenty_writes_a_minute() -> None:
    """Telegram counts a forum's topics as one chat; writes to two topics stay within it."""
    clock = FakeClock(auto=True)
    pacing, flood = platform_pacing(clock), FloodLimits(clock.now)
    topics = [f"{GROUP}:5", f"{GROUP}:9"] * 25
    refused = [await write(pacing, flood, clock, topic, GROUP_LIMITS) for topic in topics]
    assert [event for event in refused if event] == []


async def test_a_private_chat_written_to_nonstop_stays_within_one_write_a_second() -> None:
    """Thirty writes in a row in a private chat, none refused."""
    clock = FakeClock(auto=True)
    pacing, flood = platform_pacing(clock), FloodLimits(clock.now)
    refused = [await write(pacing, flood, clock, str(PRIVATE), PRIVATE_LIMITS) for _ in range(30)]
    assert [event for event in refused if event] == []


async def test_many_chats_at_once_stay_within_thirty_writes_a_second_bot_wide() -> None:
    """Ninety private chats each writing at the same moment: the bot-wide cap spreads them."""
    clock = FakeClock(auto=True)
    pacing, flood = platform_pacing(clock), FloodLimits(clock.now)
    chats = [str(PRIVATE + n) for n in range(90)]
    refused = await asyncio.gather(
        *(write(pacing, flood, clock, chat, PRIVATE_LIMITS) for chat in chats)
    )
    assert [event for event in refused if event] == []
    assert clock.now() >= 2.0
