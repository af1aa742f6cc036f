"""Key links in the shared state, across two processes on one database (SQLite and
PostgreSQL): a link issued by one is opened by the other, once, by its admin; the wait for
the key is seen wherever the key arrives; both end by the wall clock; /forget drops them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.core.domain import ChannelKey
from bot.platforms.telegram.keys import LINK_SECONDS, KeyLinks, KeyRequest
from bot.storage.db import create_engine, create_sessions
from bot.storage.shared_state import SqlSharedState
from tests.fakes.clock import FakeWallClock
from tests.storage.conftest import fresh_url, postgres_migrated_url  # noqa: F401

ALICE = 1001
BOB = 1002
GROUP = -100500
REQUEST = KeyRequest(
    user_id=ALICE,
    group_id=GROUP,
    group_title="Book club",
    channel=ChannelKey("telegram", "-100500:7"),
    options={"base_url": "http://10.9.9.9/v1", "model": "m"},
)


@pytest.fixture
def wall() -> FakeWallClock:
    return FakeWallClock(datetime(2026, 12, 8, 12, 0, tzinfo=UTC))


@pytest.fixture
async def processes(fresh_url: str, wall: FakeWallClock) -> AsyncIterator[list[KeyLinks]]:  # noqa: F811
    """Two processes' links, each with its own engine on the one database."""
    engines = [create_engine(fresh_url) for _ in range(2)]
    yield [KeyLinks(SqlSharedState(create_sessions(e), now=wall)) for e in engines]
    for engine in engines:
        await engine.dispose()


async def test_a_link_issued_in_one_process_is_opened_in_another_once(
    processes: list[KeyLinks],
) -> None:
    """Bob cannot use Alice's link and does not use it up; Alice opens it, once."""
    one, other = processes
    token = await one.issue(REQUEST)

    assert await other.open(token, BOB) is None
    assert await other.open(token, ALICE) == REQUEST
    assert await one.open(token, ALICE) is None


async def test_the_wait_for_a_key_is_seen_and_taken_by_any_process(
    processes: list[KeyLinks],
) -> None:
    """The process that armed the wait need not be the one the key arrives at."""
    one, other = processes
    await one.await_key(REQUEST)

    assert await other.waiting(ALICE)
    assert not await other.waiting(BOB)
    assert await other.take_waiting(ALICE) == REQUEST
    assert not await one.waiting(ALICE)


async def test_links_and_waits_end_after_their_minutes(
    processes: list[KeyLinks], wall: FakeWallClock
) -> None:
    """Usable a second before their end, in any process; gone at it."""
    one, other = processes
    token = await one.issue(REQUEST)
    await one.await_key(REQUEST)
    wall.advance(LINK_SECONDS - 1)
    assert await other.waiting(ALICE)

    wall.advance(1)

    assert await other.open(token, ALICE) is None
    assert not await other.waiting(ALICE)


async def test_forget_in_one_process_drops_what_another_made(processes: list[KeyLinks]) -> None:
    """/forget: Alice's links and her wait go, counted; Bob's link stays."""
    one, other = processes
    first, second = await one.issue(REQUEST), await one.issue(REQUEST)
    bobs = await one.issue(KeyRequest(BOB, GROUP, "Book club", REQUEST.channel))
    await one.await_key(REQUEST)

    assert await other.forget("telegram", str(ALICE)) == 3
    assert await other.forget("discord", str(BOB)) == 0

    assert await one.open(first, ALICE) is None
    assert await one.open(second, ALICE) is None
    assert not await one.waiting(ALICE)
    assert await one.open(bobs, BOB) is not None
