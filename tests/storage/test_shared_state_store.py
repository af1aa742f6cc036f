"""Shared state on both databases: what one process puts another reads; a take goes to one
taker only; entries end at their time by the injected clock; /forget's delete by owner."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import create_engine, create_sessions
from bot.storage.shared_state import SWEEP_BATCH_ROWS, SqlSharedState
from bot.storage.tables import SharedStateRow
from tests.fakes.clock import FakeWallClock

NOON = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FakeWallClock:
    return FakeWallClock(NOON)


@pytest.fixture
def state(engine: AsyncEngine, clock: FakeWallClock) -> SqlSharedState:
    return SqlSharedState(create_sessions(engine), now=clock)


@pytest.fixture
async def other(fresh_url: str, clock: FakeWallClock) -> SqlSharedState:
    """A second process: its own engine on the same database."""
    engine = create_engine(fresh_url)
    yield SqlSharedState(create_sessions(engine), now=clock)
    await engine.dispose()


async def rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(select(func.count()).select_from(SharedStateRow)) or 0)


async def test_what_one_process_puts_another_reads(
    state: SqlSharedState, other: SqlSharedState
) -> None:
    """A value put by one engine is read by another; a second put replaces it."""
    await state.put("link", "abc", "first", ttl=60)
    await other.put("link", "abc", "second", ttl=60)

    assert await state.get("link", "abc") == "second"
    assert await other.get("link", "other") is None
    assert await other.get("code", "abc") is None


async def test_a_take_goes_to_one_taker_only(state: SqlSharedState, other: SqlSharedState) -> None:
    """Two processes taking the same key at once: one gets the value, the other nothing."""
    await state.put("link", "abc", "value", ttl=60)

    taken = await asyncio.gather(*(s.take("link", "abc") for s in (state, other, state, other)))

    assert sorted(taken, key=str) == [None, None, None, "value"]
    assert await state.get("link", "abc") is None


async def test_an_entry_ends_at_its_time(state: SqlSharedState, clock: FakeWallClock) -> None:
    """Readable until its time-to-live has passed, then gone for get, take and delete."""
    await state.put("link", "abc", "value", ttl=60)
    clock.advance(59)
    assert await state.get("link", "abc") == "value"

    clock.advance(1)

    assert await state.get("link", "abc") is None
    assert await state.take("link", "abc") is None
    assert not await state.delete("link", "abc")


async def test_writes_sweep_expired_rows_in_batches(
    state: SqlSharedState, engine: AsyncEngine, clock: FakeWallClock
) -> None:
    """Expired rows go a batch at a time as later writes happen; live ones stay."""
    for index in range(SWEEP_BATCH_ROWS + 5):
        await state.put("latest", str(index), "1", ttl=10)
    await state.put("latest", "live", "1", ttl=1000)
    clock.advance(20)

    await state.put("latest", "new", "1", ttl=1000)
    assert await rows(engine) == 5 + 2
    await state.put("latest", "newer", "1", ttl=1000)
    assert await rows(engine) == 3
    assert await state.get("latest", "live") == "1"


async def test_delete_owned_erases_a_persons_entries_of_a_kind(state: SqlSharedState) -> None:
    """/forget: the person's entries of that kind go; others' and other kinds stay."""
    await state.put("link", "a", "1", ttl=60, owner="telegram:1")
    await state.put("link", "b", "1", ttl=60, owner="telegram:1")
    await state.put("link", "c", "1", ttl=60, owner="telegram:2")
    await state.put("code", "d", "1", ttl=60, owner="telegram:1")

    assert await state.delete_owned("link", "telegram:1") == 2

    assert await state.get("link", "a") is None
    assert await state.get("link", "c") == "1"
    assert await state.get("code", "d") == "1"


async def test_delete_owned_erases_expired_entries_not_yet_swept(
    state: SqlSharedState, clock: FakeWallClock, engine: AsyncEngine
) -> None:
    """An entry past its time still names the person until a sweep reaches it, and a sweep
    takes only the oldest SWEEP_BATCH_ROWS: /forget takes the person's now."""
    for n in range(SWEEP_BATCH_ROWS):  # others', ending first: the next sweep's whole batch
        await state.put("link", f"other-{n}", "1", ttl=1, owner="telegram:2")
    await state.put("link", "theirs", "1", ttl=2, owner="telegram:1")
    clock.advance(5)

    await state.delete_owned("link", "telegram:1")

    assert await rows(engine) == 0


async def test_a_claim_goes_to_one_claimant_only(
    state: SqlSharedState, other: SqlSharedState
) -> None:
    """Four claims of one key at once from two processes: exactly one is granted, and a
    later claim is refused while the first lives; other keys are claimed apart."""
    granted = await asyncio.gather(
        *(s.claim("update", "bot1:42", ttl=60) for s in (state, other, state, other))
    )

    assert sorted(granted) == [False, False, False, True]
    assert not await other.claim("update", "bot1:42", ttl=60)
    assert await other.claim("update", "bot1:43", ttl=60)
    assert await state.claim("update", "bot2:42", ttl=60)


async def test_an_expired_claim_can_be_claimed_again(
    state: SqlSharedState, other: SqlSharedState, clock: FakeWallClock
) -> None:
    """Once its time has passed the key is free: the next claim is granted, and holds."""
    assert await state.claim("update", "bot1:42", ttl=60, value="worker a")
    clock.advance(60)

    assert await other.claim("update", "bot1:42", ttl=60, value="worker b")
    assert await state.get("update", "bot1:42") == "worker b"
    assert not await state.claim("update", "bot1:42", ttl=60)
