"""A process's lease over time, on a virtual clock: renewed on schedule, released at exit,
and each renewal settling the replies of a process that died once its lease has run out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.domain import ChannelKey, MessageStatus, NewUserMessage
from bot.storage.db import create_engine, create_sessions
from bot.storage.leases import ProcessIdentity, SqlLeases
from bot.storage.process_lease import ProcessLease
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock

T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
LEASE_SECONDS, RENEW_SECONDS = 30.0, 10.0
WAIT_SECONDS = 10.0
DEAD = ProcessIdentity("dead-process", "elsewhere", 99)
SURVIVOR = ProcessIdentity("survivor", "here", 1)


@pytest.fixture
async def sessions(fresh_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(fresh_url)
    yield create_sessions(engine)
    await engine.dispose()


def lease_on(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, identity: ProcessIdentity
) -> ProcessLease:
    return ProcessLease(
        SqlLeases(sessions, secret_box=None),
        identity=identity,
        clock=clock,
        wall_clock=lambda: T0 + timedelta(seconds=clock.now()),
        lease_seconds=LEASE_SECONDS,
        renew_seconds=RENEW_SECONDS,
    )


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Until `check()` holds: the renewal woken by the virtual clock writes over real I/O."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not await check():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.01)


async def renewal(clock: FakeClock) -> None:
    """Let one renewal interval pass, and the renewal it wakes finish (its task asleep
    again): the next interval's renewal is only scheduled once this one is done."""
    await clock.advance(RENEW_SECONDS)
    await eventually(lambda: _true(clock.sleepers == 1))


async def _true(value: bool) -> bool:
    return value


async def alive_at(leases: SqlLeases, seconds: float) -> list[str]:
    return [p.id for p in await leases.live_processes(now=T0 + timedelta(seconds=seconds))]


async def test_the_lease_is_renewed_every_renew_interval(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Each renewal moves the lease's end a renewal further; none happens before it is due."""
    clock, leases = FakeClock(), SqlLeases(sessions, secret_box=None)
    async with lease_on(sessions, clock, SURVIVOR):
        assert await alive_at(leases, LEASE_SECONDS - 1) == ["survivor"]
        assert await alive_at(leases, LEASE_SECONDS + 1) == []
        await renewal(clock)
        assert await alive_at(leases, LEASE_SECONDS + 1) == ["survivor"]
        assert await alive_at(leases, LEASE_SECONDS + RENEW_SECONDS + 1) == []


async def test_leaving_releases_the_lease(sessions: async_sessionmaker[AsyncSession]) -> None:
    """A clean exit ends the lease at once: the next start need not wait for it."""
    clock, leases = FakeClock(), SqlLeases(sessions, secret_box=None)
    async with lease_on(sessions, clock, SURVIVOR) as lease:
        assert lease.id == "survivor"
    assert await alive_at(leases, 0) == []


async def test_a_survivor_settles_a_dead_processs_reply_once_its_lease_runs_out(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A process killed mid-reply: its reply stays as it was while its lease lasts, then
    the survivor's renewal settles it with the text it showed; the survivor's own reply,
    pending all along, is untouched."""
    clock, leases = FakeClock(), SqlLeases(sessions, secret_box=None)
    dead_store = SqlStore(sessions, secret_box=None, owner=DEAD.id)
    await leases.register(DEAD, now=T0, expires_at=T0 + timedelta(seconds=LEASE_SECONDS))
    dead_chat = (await dead_store.load_channel(ChannelKey("console", "dead"))).chat_id
    cut = await dead_store.begin_turn(dead_chat, NewUserMessage("1", "Ann", "a story"))
    await dead_store.save_partial(cut.assistant_message_id, content="Once upon", reasoning="")

    async with lease_on(sessions, clock, SURVIVOR) as lease:
        assert lease.settled_at_start == 0
        store = SqlStore(sessions, secret_box=None, owner=lease.id)
        own_chat = (await store.load_channel(ChannelKey("console", "own"))).chat_id
        own = await store.begin_turn(own_chat, NewUserMessage("2", "Bo", "a poem"))
        await store.save_partial(own.assistant_message_id, content="Roses", reasoning="")

        await renewal(clock)
        await renewal(clock)  # at 20 s the dead lease still holds
        assert await alive_at(leases, 45) == ["survivor"]
        assert (await store.history(dead_chat, limit=1))[-1].status is MessageStatus.PENDING

        await renewal(clock)  # at 30 s it has run out
        cut_off = (await store.history(dead_chat, limit=1))[-1]
        assert (cut_off.status, cut_off.content) == (MessageStatus.INTERRUPTED, "Once upon")
        mine = (await store.history(own_chat, limit=1))[-1]
        assert (mine.status, mine.content) == (MessageStatus.PENDING, "")
        await store.finish_turn(
            own.assistant_message_id, content="Roses.", reasoning="", status=MessageStatus.COMPLETE
        )
        assert (await store.history(own_chat, limit=1))[-1].content == "Roses."


async def test_a_lease_deleted_by_another_process_is_taken_again(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """A process that stalled past its lease registers again at its next renewal."""
    clock, leases = FakeClock(), SqlLeases(sessions, secret_box=None)
    async with lease_on(sessions, clock, SURVIVOR):
        await leases.settle_orphaned(now=T0 + timedelta(seconds=LEASE_SECONDS + 1))
        assert await alive_at(leases, 0) == []
        await renewal(clock)
        assert await alive_at(leases, RENEW_SECONDS + 1) == ["survivor"]
