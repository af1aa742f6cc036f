"""Quota counters on both databases: the sliding window's check-and-keep, trusted token sums
per UTC day and month, servers' own limits, pruning, and two processes racing for a place."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.domain import MessageStatus, TokenSource, TokenTally, UsageEntry
from bot.core.quotas import Admission, Limit, Limits, RateCheck, RateRefusal, Scope, Spent
from bot.storage.db import create_engine, create_sessions
from bot.storage.quotas import SqlQuotas
from bot.storage.usage import SqlUsage

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
MINUTE = timedelta(seconds=60)
ANN = Scope(user_id="ann")
GUILD = Scope(server="guild-1")
DAY = (datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))
MONTH_START = datetime(2026, 11, 1, tzinfo=UTC)


def admission(at: datetime, *, user: str = "ann", server: str | None = "guild-1") -> Admission:
    return Admission(at, "discord", user, server, "general")


def within_minute(scope: Scope, allowed: int, now: datetime) -> RateCheck:
    return RateCheck(scope, allowed, now - MINUTE)


@pytest.fixture
def quotas(engine: AsyncEngine) -> SqlQuotas:
    return SqlQuotas(create_sessions(engine), secret_box=None)


@pytest.fixture
def usage(engine: AsyncEngine) -> SqlUsage:
    return SqlUsage(create_sessions(engine), secret_box=None)


async def test_a_full_window_refuses_and_keeps_nothing(quotas: SqlQuotas) -> None:
    """Two places a minute: the third is refused, naming the admission whose expiry frees one."""
    first, second = NOON, NOON + timedelta(seconds=20)
    for at in (first, second):
        assert await quotas.admit(admission(at), [within_minute(ANN, 2, at)]) is None
    now = NOON + timedelta(seconds=30)

    refusal = await quotas.admit(admission(now), [within_minute(ANN, 2, now)])

    assert refusal == RateRefusal(0, first)
    assert await quotas.admissions("discord", ANN, since=now - MINUTE) == 2


async def test_the_window_slides_past_old_admissions(quotas: SqlQuotas) -> None:
    """An admission exactly 60 s old no longer counts."""
    await quotas.admit(admission(NOON), [within_minute(ANN, 1, NOON)])
    later = NOON + MINUTE

    assert await quotas.admit(admission(later), [within_minute(ANN, 1, later)]) is None


async def test_each_check_counts_its_own_scope(quotas: SqlQuotas) -> None:
    """A server's window holds everyone's turns there; a person's, theirs anywhere."""
    await quotas.admit(admission(NOON, user="bob"), [])
    await quotas.admit(admission(NOON, server=None), [])
    checks = [within_minute(ANN, 2, NOON), within_minute(GUILD, 1, NOON)]

    refusal = await quotas.admit(admission(NOON), checks)

    assert refusal == RateRefusal(1, NOON)
    assert await quotas.admissions("discord", ANN, since=NOON - MINUTE) == 1
    assert await quotas.admissions("discord", Scope("ann", "guild-1"), since=NOON - MINUTE) == 0
    assert await quotas.admissions("telegram", ANN, since=NOON - MINUTE) == 0


async def test_two_processes_never_both_take_the_last_place(fresh_url: str) -> None:
    """Turns from two engines at once (two processes' pools) admit exactly the limit."""
    engines = [create_engine(fresh_url) for _ in range(2)]
    try:
        books = [SqlQuotas(create_sessions(engine), secret_box=None) for engine in engines]
        check = [within_minute(ANN, 5, NOON)]
        results = await asyncio.gather(
            *(books[n % 2].admit(admission(NOON), check) for n in range(16))
        )
        counted = await books[0].admissions("discord", ANN, since=NOON - MINUTE)
    finally:
        for engine in engines:
            await engine.dispose()

    assert sum(result is None for result in results) == 5
    assert counted == 5


async def test_tokens_are_summed_per_day_and_month_from_trusted_rows_only(
    quotas: SqlQuotas, usage: SqlUsage
) -> None:
    """The operator's endpoint's turns count; a channel's own endpoint's, and last month's,
    do not."""
    await usage.record(entry(NOON, 100, 20))
    await usage.record(entry(NOON - timedelta(days=3), 40, 2))
    await usage.record(entry(NOON, 1000, 1000, trusted=False))
    await usage.record(entry(MONTH_START - timedelta(seconds=1), 500, 0))
    await usage.record(entry(NOON, 7, 0, user="bob"))

    mine = await quotas.spent("discord", ANN, day=DAY, month_start=MONTH_START)
    servers = await quotas.spent("discord", GUILD, day=DAY, month_start=MONTH_START)

    assert mine == Spent(today=120, this_month=162)
    assert servers == Spent(today=127, this_month=169)


async def test_a_servers_own_limits_are_set_partly_and_cleared(quotas: SqlQuotas) -> None:
    """Setting one limit keeps the others; None clears one; clearing forgets them all."""
    await quotas.set_overrides("discord", "guild-1", {Limit.USER_TOKENS_PER_DAY: 500})
    both = await quotas.set_overrides("discord", "guild-1", {Limit.SERVER_MESSAGES_PER_MINUTE: 9})
    cleared_one = await quotas.set_overrides(
        "discord", "guild-1", {Limit.USER_TOKENS_PER_DAY: None}
    )
    elsewhere = await quotas.overrides("telegram", "guild-1")
    await quotas.clear_overrides("discord", "guild-1")

    assert both == Limits(user_tokens_per_day=500, server_messages_per_minute=9)
    assert cleared_one == Limits(server_messages_per_minute=9)
    assert elsewhere == Limits()
    assert await quotas.overrides("discord", "guild-1") == Limits()


async def test_pruning_deletes_only_old_rows_in_batches(quotas: SqlQuotas) -> None:
    """A batch at a time, oldest first; recent admissions stay."""
    for seconds in range(5):
        await quotas.admit(admission(NOON + timedelta(seconds=seconds)), [])
    await quotas.admit(admission(NOON + timedelta(minutes=10)), [])
    before = NOON + timedelta(minutes=5)

    batches = [await quotas.prune(before=before, batch=2) for _ in range(4)]

    assert batches == [2, 2, 1, 0]
    assert await quotas.admissions("discord", ANN, since=NOON) == 1


def entry(
    at: datetime, prompt: int, completion: int, *, user: str = "ann", trusted: bool = True
) -> UsageEntry:
    return dataclasses.replace(
        ENTRY,
        created_at=at,
        user_id=user,
        trusted=trusted,
        prompt_tokens=TokenTally(prompt, TokenSource.ENDPOINT),
        completion_tokens=TokenTally(completion, TokenSource.ENDPOINT),
    )


ENTRY = UsageEntry(
    created_at=NOON,
    platform="discord",
    user_id="ann",
    server="guild-1",
    channel="general",
    model="m1",
    endpoint_host="api.example",
    trusted=True,
    prompt_tokens=TokenTally(0, TokenSource.ENDPOINT),
    completion_tokens=TokenTally(0, TokenSource.ENDPOINT),
    duration_seconds=1.0,
    status=MessageStatus.COMPLETE,
)
