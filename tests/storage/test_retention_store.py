"""Retention on both databases: only what is older than the limit goes, a batch at a time,
and a reply still being written never does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core.domain import (
    ChannelKey,
    ChatId,
    MessageStatus,
    NewUserMessage,
    TokenSource,
    TokenTally,
    UsageEntry,
)
from bot.service.retention import RetentionPass
from bot.storage.db import create_sessions
from bot.storage.retention import SqlRetention
from bot.storage.store import SqlStore
from bot.storage.tables import ChatRow, MessageRow, UsageRow
from bot.storage.usage import SqlUsage

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
DAYS = 30
OLD = NOW - timedelta(days=DAYS + 1)
RECENT = NOW - timedelta(days=DAYS - 1)
CHANNEL = ChannelKey("test", "general")


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessions(engine)


@pytest.fixture
def retention(sessions: async_sessionmaker[AsyncSession]) -> SqlRetention:
    return SqlRetention(sessions, secret_box=None)


def retention_pass(retention: SqlRetention, *, batch_rows: int = 500) -> RetentionPass:
    return RetentionPass(retention, days=DAYS, wall_clock=lambda: NOW, batch_rows=batch_rows)


async def said(store: SqlStore, chat: ChatId, text: str) -> tuple[int, int]:
    """A finished turn: the user's message and a completed reply."""
    ids = await store.begin_turn(chat, NewUserMessage("ann", "Ann", text))
    await store.finish_turn(
        ids.assistant_message_id, content=f"re: {text}", reasoning="", status=MessageStatus.COMPLETE
    )
    return ids.user_message_id, ids.assistant_message_id


async def dated(
    sessions: async_sessionmaker[AsyncSession], when: datetime, *message_ids: int
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(
            update(MessageRow).where(MessageRow.id.in_(message_ids)).values(created_at=when)
        )


async def archived_at(
    sessions: async_sessionmaker[AsyncSession], chat: int, when: datetime
) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(ChatRow).where(ChatRow.id == chat).values(archived_at=when))


async def contents(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(MessageRow.content).order_by(MessageRow.id)))


async def count(sessions: async_sessionmaker[AsyncSession], table: type[object]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


def usage_at(when: datetime) -> UsageEntry:
    tally = TokenTally(1, TokenSource.ENDPOINT)
    return UsageEntry(
        created_at=when,
        platform="test",
        user_id="ann",
        server=None,
        channel="general",
        model="m",
        endpoint_host="example",
        trusted=True,
        prompt_tokens=tally,
        completion_tokens=tally,
        duration_seconds=1.0,
        status=MessageStatus.COMPLETE,
    )


async def test_only_what_is_older_than_the_limit_is_deleted(
    store: SqlStore, sessions: async_sessionmaker[AsyncSession], retention: SqlRetention
) -> None:
    """Old messages of the current chat, chats archived long ago and old usage go; recent
    messages, a recently archived chat and recent usage stay."""
    state = await store.load_channel(CHANNEL)
    old_chat = state.chat_id
    await dated(sessions, OLD, *await said(store, old_chat, "archived long ago"))
    middle_chat = await store.reset_chat(CHANNEL)
    await archived_at(sessions, old_chat, OLD)
    await dated(sessions, OLD, *await said(store, middle_chat, "archived lately"))
    current = await store.reset_chat(CHANNEL)
    await archived_at(sessions, middle_chat, RECENT)
    await dated(sessions, OLD, *await said(store, current, "old but current"))
    await dated(sessions, RECENT, *await said(store, current, "recent"))
    usage = SqlUsage(sessions, secret_box=None)
    await usage.record(usage_at(OLD))
    await usage.record(usage_at(RECENT))

    deleted = await retention_pass(retention).run()

    assert deleted == {
        "messages of archived chats": 2,
        "archived chats": 1,
        "old messages": 2,
        "usage rows": 1,
    }
    assert await contents(sessions) == [
        "archived lately",
        "re: archived lately",
        "recent",
        "re: recent",
    ]
    assert await count(sessions, ChatRow) == 2
    assert await count(sessions, UsageRow) == 1
    assert (await store.load_channel(CHANNEL)).chat_id == current


async def test_a_pending_reply_is_never_deleted(
    store: SqlStore, sessions: async_sessionmaker[AsyncSession], retention: SqlRetention
) -> None:
    """A reply still being written (say, a regeneration of an old one) stays, however old."""
    chat = (await store.load_channel(CHANNEL)).chat_id
    ids = await store.begin_turn(chat, NewUserMessage("ann", "Ann", "old question"))
    await dated(sessions, OLD, ids.user_message_id, ids.assistant_message_id)

    deleted = await retention_pass(retention).run()

    assert deleted["old messages"] == 1
    async with sessions() as session:
        left = (await session.scalars(select(MessageRow))).all()
    assert [(row.id, row.status) for row in left] == [(ids.assistant_message_id, "pending")]


async def test_a_backlog_goes_in_batches_of_the_set_size(
    store: SqlStore, sessions: async_sessionmaker[AsyncSession], retention: SqlRetention
) -> None:
    """Each batch deletes at most the set number of rows, oldest first; a pass repeats
    batches until the backlog is gone."""
    chat = (await store.load_channel(CHANNEL)).chat_id
    ids = [i for n in range(5) for i in await said(store, chat, f"message {n}")]
    await dated(sessions, OLD, *ids)

    first = await retention.delete_old_messages(NOW - timedelta(days=DAYS), limit=3)
    assert first == 3
    assert await contents(sessions) == [
        "re: message 1",
        "message 2",
        "re: message 2",
        "message 3",
        "re: message 3",
        "message 4",
        "re: message 4",
    ]

    deleted = await retention_pass(retention, batch_rows=3).run()
    assert deleted["old messages"] == 7
    assert await contents(sessions) == []


async def test_a_reopened_archived_chat_is_kept(
    store: SqlStore, sessions: async_sessionmaker[AsyncSession], retention: SqlRetention
) -> None:
    """A chat that is some channel's current one is not an archived chat to delete, whatever
    its archived_at says."""
    chat = (await store.load_channel(CHANNEL)).chat_id
    await archived_at(sessions, chat, OLD)

    deleted = await retention.delete_archived_chats(NOW, limit=10)

    assert deleted == 0
    assert (await store.load_channel(CHANNEL)).chat_id == chat
