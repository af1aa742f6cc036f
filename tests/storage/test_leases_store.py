"""Two processes on one database (SQLite file and PostgreSQL): each settles only the replies
of a process whose lease ran out, never a live one's, and a regeneration's earlier version
survives whatever the other process does. Each "process" has an engine of its own; time is
given, not slept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.domain import ChannelKey, ChatId, MessageId, MessageStatus, NewUserMessage
from bot.storage.db import create_engine, create_sessions
from bot.storage.leases import ProcessIdentity, SqlLeases
from bot.storage.store import SqlStore

KEY = ChannelKey("discord", "1234567890")
OTHER_KEY = ChannelKey("telegram", "5001")
T0 = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=30)


@dataclass
class Process:
    """One bot process's view of the database: its id, its store and its leases."""

    identity: ProcessIdentity
    store: SqlStore
    leases: SqlLeases

    async def start(self, at: datetime) -> int:
        """Register and settle what no live process owns, as a process does at start."""
        await self.leases.register(self.identity, now=at, expires_at=at + LEASE)
        return await self.leases.settle_orphaned(now=at)

    async def renew(self, at: datetime) -> int:
        """One renewal and the sweep that goes with it."""
        assert await self.leases.renew(self.identity.id, now=at, expires_at=at + LEASE)
        return await self.leases.settle_expired(now=at)


@pytest.fixture
async def processes(fresh_url: str) -> AsyncIterator[list[Process]]:
    """Two processes, "a" and "b", not yet started, each with an engine of its own."""
    engines = [create_engine(fresh_url) for _ in range(2)]
    made = []
    for name, engine in zip("ab", engines, strict=True):
        sessions = create_sessions(engine)
        identity = ProcessIdentity(id=f"process-{name}", host="test", pid=1)
        store = SqlStore(sessions, secret_box=None, owner=identity.id)
        made.append(Process(identity, store, SqlLeases(sessions, secret_box=None)))
    yield made
    for engine in engines:
        await engine.dispose()


async def answered(store: SqlStore, chat: ChatId, reply: str) -> MessageId:
    """A message and its complete reply."""
    ids = await store.begin_turn(chat, NewUserMessage("42", "Ada", f"about {reply}"))
    await store.finish_turn(
        ids.assistant_message_id, content=reply, reasoning="", status=MessageStatus.COMPLETE
    )
    return ids.assistant_message_id


async def versions(store: SqlStore, chat: ChatId) -> tuple[list[tuple[str, str]], str, str]:
    """Every kept version of the last reply (text, status), and the one shown with its status."""
    shown = (await store.history(chat, limit=1))[-1]
    kept = (await store.alternatives(chat)).get(shown.id, [shown])
    return [(v.content, v.status.value) for v in kept], shown.content, shown.status.value


async def test_a_start_leaves_a_live_processs_regeneration_alone(
    processes: list[Process],
) -> None:
    """One regenerates while the other starts: nothing is cut off, and the earlier version
    is still there beside the new one when it is stored."""
    a, b = processes
    await a.start(T0)
    chat = (await a.store.load_channel(KEY)).chat_id
    await answered(a.store, chat, "The first telling.")
    pending = await a.store.begin_regeneration(chat)
    await a.store.save_partial(pending.id, content="A second", reasoning="")

    assert await b.start(T0 + timedelta(seconds=5)) == 0
    assert await b.renew(T0 + timedelta(seconds=6)) == 0

    assert (await a.store.history(chat, limit=1))[-1].status is MessageStatus.PENDING
    await a.store.save_partial(pending.id, content="A second telling", reasoning="")
    await a.store.finish_turn(
        pending.id, content="A second telling.", reasoning="", status=MessageStatus.COMPLETE
    )
    assert await versions(a.store, chat) == (
        [("The first telling.", "complete"), ("A second telling.", "complete")],
        "A second telling.",
        "complete",
    )


async def test_a_dead_processs_reply_is_settled_once_its_lease_runs_out(
    processes: list[Process],
) -> None:
    """The survivor's sweep settles the dead process's reply with the text it showed, only
    after its lease has run out, and leaves the survivor's own reply writing."""
    a, b = processes
    await a.start(T0)
    await b.start(T0)
    dead_chat = (await a.store.load_channel(KEY)).chat_id
    dead = await a.store.begin_turn(dead_chat, NewUserMessage("42", "Ada", "a story"))
    await a.store.save_partial(dead.assistant_message_id, content="Once upon", reasoning="")
    own_chat = (await b.store.load_channel(OTHER_KEY)).chat_id
    own = await b.store.begin_turn(own_chat, NewUserMessage("7", "Bo", "a poem"))
    await b.store.save_partial(own.assistant_message_id, content="Roses", reasoning="")

    assert await b.renew(T0 + LEASE - timedelta(seconds=1)) == 0
    assert (await b.store.history(dead_chat, limit=1))[-1].status is MessageStatus.PENDING

    assert await b.renew(T0 + LEASE + timedelta(seconds=1)) == 1
    cut = (await b.store.history(dead_chat, limit=1))[-1]
    assert (cut.status, cut.content) == (MessageStatus.INTERRUPTED, "Once upon")
    mine = (await b.store.history(own_chat, limit=1))[-1]
    assert mine.status is MessageStatus.PENDING
    await b.store.save_partial(own.assistant_message_id, content="Roses are red", reasoning="")
    await b.store.finish_turn(
        own.assistant_message_id,
        content="Roses are red.",
        reasoning="",
        status=MessageStatus.COMPLETE,
    )
    mine = (await b.store.history(own_chat, limit=1))[-1]
    assert (mine.status, mine.content, mine.swipe_count) == (
        MessageStatus.COMPLETE,
        "Roses are red.",
        1,
    )
    alive = await b.leases.live_processes(now=T0 + LEASE + timedelta(seconds=1))
    assert [p.id for p in alive] == ["process-b"]


async def test_a_dead_processs_regeneration_leaves_the_earlier_version_shown(
    processes: list[Process],
) -> None:
    """A crash mid-regeneration: the earlier version is shown again, and what the new one
    had shown is kept beside it, marked interrupted."""
    a, b = processes
    await a.start(T0)
    chat = (await a.store.load_channel(KEY)).chat_id
    await answered(a.store, chat, "The first telling.")
    pending = await a.store.begin_regeneration(chat)
    await a.store.save_partial(pending.id, content="A sec", reasoning="")

    assert await b.start(T0 + LEASE + timedelta(seconds=1)) == 1

    assert await versions(b.store, chat) == (
        [("The first telling.", "complete"), ("A sec", "interrupted")],
        "The first telling.",
        "complete",
    )


async def test_a_reply_finished_after_its_lease_ran_out_overwrites_nothing(
    processes: list[Process],
) -> None:
    """A process that stalled past its lease finishes its regeneration after the other
    settled it: the earlier version, the settled text and the late one are all kept."""
    a, b = processes
    await a.start(T0)
    chat = (await a.store.load_channel(KEY)).chat_id
    await answered(a.store, chat, "The first telling.")
    pending = await a.store.begin_regeneration(chat)
    await a.store.save_partial(pending.id, content="A sec", reasoning="")
    assert await b.start(T0 + LEASE + timedelta(seconds=1)) == 1

    await a.store.save_partial(pending.id, content="A second tel", reasoning="")
    await a.store.finish_turn(
        pending.id, content="A second telling.", reasoning="", status=MessageStatus.COMPLETE
    )

    assert await versions(a.store, chat) == (
        [
            ("The first telling.", "complete"),
            ("A sec", "interrupted"),
            ("A second telling.", "complete"),
        ],
        "A second telling.",
        "complete",
    )


async def test_a_late_process_never_writes_into_a_reply_another_now_writes(
    processes: list[Process],
) -> None:
    """After the settling, the survivor regenerates the reply: the late process's keeps and
    final text leave that new version alone, and it settles as it should."""
    a, b = processes
    await a.start(T0)
    chat = (await a.store.load_channel(KEY)).chat_id
    first = await answered(a.store, chat, "One.")
    await a.store.begin_continuation(chat)
    assert await b.start(T0 + LEASE + timedelta(seconds=1)) == 1
    regenerating = await b.store.begin_regeneration(chat)
    await b.store.save_partial(regenerating.id, content="Tw", reasoning="")

    await a.store.save_partial(first, content=" And more", reasoning="")
    await a.store.finish_turn(
        first, content="One. And more.", reasoning="", status=MessageStatus.COMPLETE
    )
    assert (await b.store.history(chat, limit=1))[-1].status is MessageStatus.PENDING
    await b.store.finish_turn(
        regenerating.id, content="Two.", reasoning="", status=MessageStatus.COMPLETE
    )

    assert await versions(b.store, chat) == (
        [("One.", "complete"), ("Two.", "complete"), ("One. And more.", "complete")],
        "Two.",
        "complete",
    )


async def test_a_clean_stop_lets_the_next_start_settle_what_was_left_at_once(
    processes: list[Process],
) -> None:
    """A released lease has run out: a reply left pending by a shutdown that ran out of
    time is settled by the next start without waiting for the lease."""
    a, b = processes
    await a.start(T0)
    chat = (await a.store.load_channel(KEY)).chat_id
    ids = await a.store.begin_turn(chat, NewUserMessage("42", "Ada", "hi"))
    await a.store.save_partial(ids.assistant_message_id, content="Hel", reasoning="")
    await a.leases.release(a.identity.id, now=T0 + timedelta(seconds=2))

    assert await b.start(T0 + timedelta(seconds=3)) == 1
    assert (await b.store.history(chat, limit=1))[-1].status is MessageStatus.INTERRUPTED


async def test_replies_without_an_owner_are_settled_at_start_only(
    processes: list[Process], fresh_url: str
) -> None:
    """A reply pending from before leases existed is settled by the next start; the
    periodic sweep, which reads only expired leases, leaves it to that."""
    a, b = processes
    await a.start(T0)
    engine = create_engine(fresh_url)
    try:
        unowned = SqlStore(create_sessions(engine), secret_box=None)
        chat = (await unowned.load_channel(KEY)).chat_id
        await unowned.begin_turn(chat, NewUserMessage("42", "Ada", "hi"))
    finally:
        await engine.dispose()
    assert await a.renew(T0 + timedelta(seconds=1)) == 0  # the periodic sweep is cheap

    assert await b.start(T0 + timedelta(seconds=2)) == 1
    assert (await b.store.history(chat, limit=1))[-1].status is MessageStatus.INTERRUPTED


async def test_a_lease_settled_by_another_is_taken_again(processes: list[Process]) -> None:
    """Renewing a lease another process found expired (and deleted) says so, so the
    process registers again and its next replies are its own."""
    a, b = processes
    await a.start(T0)
    await b.start(T0 + LEASE + timedelta(seconds=1))

    later = T0 + LEASE + timedelta(seconds=2)
    assert not await a.leases.renew(a.identity.id, now=later, expires_at=later + LEASE)
    await a.leases.register(a.identity, now=later, expires_at=later + LEASE)
    alive = await b.leases.live_processes(now=later)
    assert sorted(p.id for p in alive) == ["process-a", "process-b"]
