"""Bot-wide budgets shared through Redis as processes use them: several processes' writes
judged by the fake Telegram's flood limits, and a Redis lost and found again while writing."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from redis.asyncio import Redis

from bot.app import BOT_WIDE_WRITES_PER_SECOND, platform_pacing
from bot.core.clock import SystemClock
from bot.core.domain import ChannelKey
from bot.fleet.budgets import RETRY_SECONDS, RedisBudget, bot_identity, connect, shared_budgets
from bot.platforms.telegram.replier import PRIVATE_LIMITS
from bot.reply.pacing import Pacing
from tests.fakes.telegram.limits import FloodLimits, RateLimitEvent
from tests.fleet.conftest import OwnRedis

PROCESSES = 3
CHATS_PER_PROCESS = 20
WRITES_PER_CHAT = 2
FIRST_CHAT = 7000


async def write_everywhere(pacings: list[Pacing], flood: FloodLimits) -> list[RateLimitEvent]:
    """Each process writes into chats of its own, all at once; what Telegram refused."""
    clock = SystemClock()

    async def chat(pacing: Pacing, chat_id: int) -> list[RateLimitEvent]:
        refused = []
        budget = pacing.budget_for(ChannelKey("telegram", str(chat_id)), PRIVATE_LIMITS)
        for _ in range(WRITES_PER_CHAT):
            await budget.spend(clock)
            if event := flood.admit("editMessageText", chat_id):
                refused.append(event)
        return refused

    chats = [
        chat(pacing, FIRST_CHAT + n * CHATS_PER_PROCESS + c)
        for n, pacing in enumerate(pacings)
        for c in range(CHATS_PER_PROCESS)
    ]
    return [event for events in await asyncio.gather(*chats) for event in events]


async def test_three_processes_stay_within_one_bots_limit(clients: list[Redis], bot: str) -> None:
    """Three processes sharing Redis write 120 times into 60 chats: Telegram refuses none,
    and it takes the time thirty writes a second need."""
    pacings = [
        platform_pacing(
            SystemClock(),
            shared=shared_budgets(client, {"telegram": bot}, BOT_WIDE_WRITES_PER_SECOND),
        )
        for client in clients
    ]
    flood = FloodLimits()
    started = time.monotonic()

    refused = await write_everywhere(pacings, flood)

    assert refused == []
    writes = PROCESSES * CHATS_PER_PROCESS * WRITES_PER_CHAT
    assert time.monotonic() - started > (writes - 30) / 30 - 0.1


async def test_without_redis_three_processes_send_three_times_the_limit() -> None:
    """What the README warns of: each process paces alone, and Telegram refuses writes."""
    pacings = [platform_pacing(SystemClock()) for _ in range(PROCESSES)]

    refused = await write_everywhere(pacings, FloodLimits())

    assert {event.scope for event in refused} == {"bot"}


async def test_a_lost_redis_is_waited_out_then_shared_again(
    own_redis: OwnRedis, bot: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis stops: writes go on, paced by the process alone, with one warning; once it is
    back (and RETRY_SECONDS have passed) the shared budget is used again, said once."""
    client = connect(own_redis.url)
    budget = shared_budgets(client, {"telegram": bot}, {"telegram": 4.0})["telegram"]
    caplog.set_level(logging.INFO, logger="bot.fleet.budgets")
    try:
        assert [await budget.claim(0.0) for _ in range(4)] == [0.0] * 4
        assert await budget.claim(0.0) > 0.9  # Redis's bucket is spent

        own_redis.stop()
        alone = [await budget.claim(10.0) for _ in range(5)]
        assert alone[:4] == [0.0] * 4  # the local bucket, fresh and full
        assert alone[4] > 0.9  # and as strict as the shared one
        assert await budget.claim(11.1) == 0.0

        own_redis.start()  # an empty Redis: the script is loaded again
        log = f"parlor:budget:{{telegram:{bot}}}:log"
        assert await budget.claim(12.0) == 0.0
        assert await client.exists(log) == 0  # Redis is not asked before RETRY_SECONDS
        assert await budget.claim(11.0 + RETRY_SECONDS) == 0.0
        assert await client.llen(log) == 1
    finally:
        await client.aclose()
    lines = [r.getMessage() for r in caplog.records]
    assert sum("Redis is not answering" in line for line in lines) == 1, lines
    assert sum("Redis answers again" in line for line in lines) == 1, lines
    assert [r.levelname for r in caplog.records if "not answering" in r.getMessage()] == ["WARNING"]


def test_each_bot_has_budget_keys_of_its_own_and_no_token_in_them() -> None:
    """Telegram's and Discord's tokens begin with the bot's id; any other shape is hashed."""
    assert bot_identity("telegram", "123456789:AAE-secret-part") == "123456789"
    discord_token = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GaBcDe.secret-part-of-the-token"
    assert bot_identity("discord", discord_token) == "123456789012345678"
    odd = bot_identity("discord", "FakeDiscordBotToken.For.OfflineTests")
    assert len(odd) == 16
    assert "Fake" not in odd
    assert bot_identity("telegram", "no-colon-at-all") != bot_identity("telegram", "another")


def test_budgets_are_made_only_for_platforms_with_a_bot_wide_rate() -> None:
    """A platform without a bot-wide cap (the console) gets no shared budget."""
    made = shared_budgets(
        connect("redis://127.0.0.1:1/0"),
        {"console": "x", "discord": "1"},
        BOT_WIDE_WRITES_PER_SECOND,
    )
    assert list(made) == ["discord"]
    assert isinstance(made["discord"], RedisBudget)
