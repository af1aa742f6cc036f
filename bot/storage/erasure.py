"""Erasure: what is kept about one person on one platform, or one channel's history, removed.

Rows and SQL only; what the counts mean to people is the /forget command's business. Knows
nothing of confirmations or platforms beyond one rule: a channel whose id is the person's
own (Telegram's private chat, and its topics "id:topic") is theirs alone.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import (
    ColumnElement,
    Delete,
    FromClause,
    Table,
    Update,
    delete,
    func,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.core.domain import ChannelKey, MessageStatus
from bot.core.errors import UsageError
from bot.storage.db import SQLITE_BUSY_TIMEOUT_MS
from bot.storage.rows import channel_is
from bot.storage.tables import Base, ChannelRow, CharacterRow, ChatRow, ConnectionRow, MessageRow
from bot.storage.transactions import Transactions, lock_channel, translating

_log = logging.getLogger(__name__)

PER_USER_TABLES: tuple[str, ...] = (
    "personas",
    "usage",
    "quota_admissions",
    # A new table of per-user rows (with `platform` and `user_id` columns) is one more
    # name here: /forget then counts and deletes its rows, and says "N <name> rows".
)
"""Tables whose rows belong to one person, found by (platform, user_id) and deleted whole."""

BATCH_ROWS = 500
"""Messages changed per transaction, so a prolific person's erasure never holds SQLite's
write lock for long."""

MESSAGES = "messages"
PRIVATE_CHATS = "private_chats"
PRIVATE_MESSAGES = "private_messages"
CHATS = "chats"
PENDING_HERE = (
    "A reply is being written here: wait for it to end (or /stop it), then confirm again."
)


class SqlErasure(Transactions):
    """Implements the `Erasure` port on SQLite and PostgreSQL.

    On SQLite every connection runs with secure_delete (db.py), so erased text is zeroed in
    the file, and after an erasure the write-ahead log is checkpointed and truncated, so no
    old copy of a page is left in it either. PostgreSQL keeps dead rows until VACUUM.
    """

    async def user_rows(self, platform: str, user_id: str) -> dict[str, int]:
        """How many rows of each kind an erasure of this person would change."""
        with translating("count what is kept about you"):
            async with self.reading() as session:
                counts = {
                    MESSAGES: await _count(session, _theirs(platform, user_id, private=False)),
                    PRIVATE_CHATS: await _count_in(
                        session, ChannelRow.__table__, _private(platform, user_id)
                    ),
                    PRIVATE_MESSAGES: await _count(session, _in_private(platform, user_id)),
                }
                for name in PER_USER_TABLES:
                    counts[name] = await _count_in(session, *_per_user(name, platform, user_id))
        return counts

    async def erase_user(self, platform: str, user_id: str, *, marker: str) -> dict[str, int]:
        """Delete the person's private chats and per-user rows, and put `marker` in place of
        each message they wrote elsewhere, with no author, images or platform ids left."""
        counts: dict[str, int] = {}
        with translating("erase what is kept about you"):
            async with self.writing() as session:
                counts[PRIVATE_MESSAGES] = await _count(session, _in_private(platform, user_id))
                counts[PRIVATE_CHATS] = await _delete_private(session, platform, user_id)
                for name in PER_USER_TABLES:
                    table, where = _per_user(name, platform, user_id)
                    counts[name] = await _changed(session, delete(table).where(where))
            counts[MESSAGES] = await self._mark(platform, user_id, marker)
        await self._purge_log()
        return counts

    async def channel_rows(self, key: ChannelKey) -> dict[str, int]:
        """How many chats (current and archived) and messages the channel's history holds."""
        with translating("count this channel's history"):
            async with self.reading() as session:
                return {
                    CHATS: await _count_in(session, ChatRow.__table__, _chats_of(key)),
                    MESSAGES: await _count(session, _in_channel(key)),
                }

    async def erase_channel(self, key: ChannelKey) -> dict[str, int]:
        """Delete every message of the channel and its archived chats, leaving it an empty
        current chat; UsageError while a reply is being written there."""
        with translating("erase this channel's history"):
            async with self.writing() as session:
                channel = await lock_channel(session, key)
                in_channel = _in_channel(key)
                pending = in_channel & (MessageRow.status == MessageStatus.PENDING.value)
                if await _count(session, pending):
                    raise UsageError(PENDING_HERE)
                messages = await _changed(session, delete(MessageRow).where(in_channel))
                archived = ChatRow.id != channel.current_chat_id
                old = delete(ChatRow).where(ChatRow.channel_id == channel.id, archived)
                chats = await _changed(session, old)
        await self._purge_log()
        return {CHATS: chats, MESSAGES: messages}

    async def _mark(self, platform: str, user_id: str, marker: str) -> int:
        """Replace the person's messages in batches, each its own transaction."""
        theirs = _theirs(platform, user_id, private=False)
        marked = 0
        while True:
            batch = select(MessageRow.id).where(theirs).limit(BATCH_ROWS)
            replace = (
                update(MessageRow)
                .where(MessageRow.id.in_(batch))
                .values(
                    content=marker,
                    author_id=None,
                    author_name=None,
                    reasoning="",
                    images=null(),
                    platform_message_ids=null(),
                    token_count=None,
                    token_counter=None,
                )
            )
            async with self.writing() as session:
                done = await _changed(session, replace)
            marked += done
            if done < BATCH_ROWS:
                return marked
            await asyncio.sleep(0)  # let other writers in between batches

    async def _purge_log(self) -> None:
        """On a SQLite file, fold the write-ahead log into the database and empty it: its
        old frames still hold the erased text until they are overwritten."""
        path = _sqlite_file(self._sessions.kw.get("bind"))
        if path is None:
            return
        async with self._write_lock:
            try:
                await asyncio.to_thread(_checkpoint, path)
            except sqlite3.Error as exc:  # erased already; a later checkpoint will fold it
                _log.warning("could not empty the SQLite log after an erasure (%s)", exc)


def _theirs(platform: str, user_id: str, *, private: bool) -> ColumnElement[bool]:
    """Messages the person wrote on this platform (outside their private chats, unless
    `private`)."""
    channels = select(ChannelRow.id).where(ChannelRow.platform == platform)
    if not private:
        channels = channels.where(~_private_channel(user_id))
    chats = select(ChatRow.id).where(ChatRow.channel_id.in_(channels))
    return (MessageRow.author_id == user_id) & MessageRow.chat_id.in_(chats)


def _private_channel(user_id: str) -> ColumnElement[bool]:
    return or_(ChannelRow.external_id == user_id, ChannelRow.external_id.startswith(f"{user_id}:"))


def _private(platform: str, user_id: str) -> ColumnElement[bool]:
    return (ChannelRow.platform == platform) & _private_channel(user_id)


def _in_private(platform: str, user_id: str) -> ColumnElement[bool]:
    chats = select(ChatRow.id).join(ChannelRow, ChatRow.channel_id == ChannelRow.id)
    return MessageRow.chat_id.in_(chats.where(_private(platform, user_id)))


def _in_channel(key: ChannelKey) -> ColumnElement[bool]:
    """Messages of the channel's chats, current and archived."""
    chats = select(ChatRow.id).join(ChannelRow, ChatRow.channel_id == ChannelRow.id)
    return MessageRow.chat_id.in_(chats.where(channel_is(key)))


def _chats_of(key: ChannelKey) -> ColumnElement[bool]:
    return ChatRow.channel_id.in_(select(ChannelRow.id).where(channel_is(key)))


def _per_user(name: str, platform: str, user_id: str) -> tuple[Table, ColumnElement[bool]]:
    table = Base.metadata.tables[name]
    return table, (table.c.platform == platform) & (table.c.user_id == user_id)


async def _count(session: AsyncSession, where: ColumnElement[bool]) -> int:
    """Messages matching `where`."""
    return await _count_in(session, MessageRow.__table__, where)


async def _count_in(session: AsyncSession, table: FromClause, where: ColumnElement[bool]) -> int:
    query = select(func.count()).select_from(table).where(where)
    return int(await session.scalar(query) or 0)


async def _changed(session: AsyncSession, statement: Delete | Update) -> int:
    """Run a DELETE or UPDATE: how many rows it changed."""
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def _delete_private(session: AsyncSession, platform: str, user_id: str) -> int:
    """The person's private channels with their history, own connection, profiles and
    characters (all scoped to the channel: "platform:id")."""
    channels = list(await session.scalars(select(ChannelRow).where(_private(platform, user_id))))
    for channel in channels:
        scope = f"{channel.platform}:{channel.external_id}"
        chats = select(ChatRow.id).where(ChatRow.channel_id == channel.id)
        await _changed(session, delete(ConnectionRow).where(ConnectionRow.scope == scope))
        await _changed(session, delete(CharacterRow).where(CharacterRow.scope == scope))
        await _changed(session, delete(MessageRow).where(MessageRow.chat_id.in_(chats)))
        channel.current_chat_id = None
        await session.flush()
        await _changed(session, delete(ChatRow).where(ChatRow.channel_id == channel.id))
        await session.delete(channel)
    await session.flush()
    return len(channels)


def _sqlite_file(bind: object) -> Path | None:
    if not isinstance(bind, AsyncEngine) or bind.dialect.name != "sqlite":
        return None
    database = bind.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database).expanduser()


def _checkpoint(path: Path) -> None:
    with closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
