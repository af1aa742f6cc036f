"""The Lua bucket against a real Redis: the waits it reports, its refill, the same rule as
the in-process bucket, and its rate held while several clients take at once."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from redis.asyncio import Redis

from bot.fleet.bucket import Rate, SharedBucket, budget_keys
from bot.reply.pacing import TokenBucket

SECOND = 1_000_000  # the script's microseconds
JITTER_SECONDS = 0.05


def bucket(client: Redis, bot: str, writes_per_second: float) -> SharedBucket:
    return SharedBucket(
        client, platform="telegram", bot=bot, rate=Rate.per_second(writes_per_second)
    )


async def test_a_spent_bucket_says_how_long_until_its_oldest_write_leaves_the_window(
    clients: list[Redis], bot: str
) -> None:
    """Five writes a second: the sixth at once is told to wait the whole second, nothing taken."""
    shared = bucket(clients[0], bot, 5)
    start = 1_700_000_000 * SECOND
    assert [await shared.take(at_microseconds=start) for _ in range(5)] == [0.0] * 5
    wait = await shared.take(at_microseconds=start)
    assert wait == pytest.approx(1.0, abs=1e-5)
    assert await shared.take(at_microseconds=start + SECOND // 2) == pytest.approx(0.5, abs=1e-5)
    assert await clients[0].llen(budget_keys("telegram", bot)[0]) == 5  # refusals not counted


async def test_a_spent_bucket_refills_after_its_window(clients: list[Redis], bot: str) -> None:
    """A burst spent at once comes back whole a window later, and is spent again."""
    shared = bucket(clients[0], bot, 5)
    start = 1_700_000_000 * SECOND
    for _ in range(5):
        await shared.take(at_microseconds=start)
    later = start + SECOND + 1
    assert [await shared.take(at_microseconds=later) for _ in range(5)] == [0.0] * 5
    assert await shared.take(at_microseconds=later) > 0.99


async def test_it_keeps_the_same_rule_as_the_in_process_bucket(
    clients: list[Redis], bot: str
) -> None:
    """Writes asked for at random moments are taken, or told the same wait, by both."""
    shared = bucket(clients[0], bot, 4)  # a quarter second: exact in floating point
    local = TokenBucket(4, 0.25)
    chance = random.Random(14)
    at = 0.0
    for _ in range(200):
        at += chance.choice([0.0, 0.0, 0.125, 0.25, 0.5, 1.0])
        expected = local.delay_until_available(at)
        if expected == 0:
            local.take(at)
        got = await shared.take(at_microseconds=1_700_000_000 * SECOND + round(at * SECOND))
        assert got == pytest.approx(expected, abs=2e-6), at


async def test_several_clients_taking_at_once_stay_within_the_rate(
    clients: list[Redis], bot: str
) -> None:
    """Three clients (three processes), four writers each, on Redis's clock for 1.5 s: no
    second holds more than twenty writes, and the bucket was used to its limit."""
    rate = 20
    taken: list[float] = []

    async def writer(client: Redis) -> None:
        shared = bucket(client, bot, rate)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            wait = await shared.take()
            if wait == 0:
                seconds, micros = await client.time()
                taken.append(seconds + micros / SECOND)
            else:
                await asyncio.sleep(wait)

    await asyncio.gather(*(writer(client) for client in clients for _ in range(4)))
    taken.sort()
    # Any twenty-one writes span a second. TIME is read just after a write was taken, so
    # a few milliseconds of the client's own delay are forgiven, as the fakes forgive them.
    spans = [taken[n + rate] - taken[n] for n in range(len(taken) - rate)]
    assert min(spans) > 1.0 - JITTER_SECONDS
    assert len(taken) >= rate + 5  # a second burst was refilled: the clients were not idle
