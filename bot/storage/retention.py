"""Retention: old rows deleted one small batch at a time, each batch its own transaction.

Rows and SQL only; when to run and how old is too old is the service's (service/retention.py).
A batch is a DELETE of at most `limit` rows picked by id, so a large backlog never holds
SQLite's one write lock for long, and other writers get in between batches.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, delete, select

from bot.core.domain import MessageStatus
from bot.storage.tables import ChannelRow, ChatRow, MessageRow, UsageRow
from bot.storage.transactions import Transactions, translating


class SqlRetention(Transactions):
    """Implements the `Retention` port on SQLite and PostgreSQL. Raises StorageError."""

    async def delete_archived_messages(self, before: datetime, *, limit: int) -> int:
        """Messages of chats archived before `before` (never a channel's current chat)."""
        chats = select(ChatRow.id).where(_archived_before(before))
        return await self._batch(
            "delete archived chats' messages",
            MessageRow,
            MessageRow.chat_id.in_(chats),
            limit=limit,
        )

    async def delete_archived_chats(self, before: datetime, *, limit: int) -> int:
        """Chats archived before `before`; their messages go with them."""
        return await self._batch(
            "delete archived chats", ChatRow, _archived_before(before), limit=limit
        )

    async def delete_old_messages(self, before: datetime, *, limit: int) -> int:
        """Messages written before `before` in chats still going on; never a pending reply,
        which a turn (or a restart's settling) is still writing."""
        current = select(ChatRow.id).where(ChatRow.archived_at.is_(None))
        old = (
            MessageRow.chat_id.in_(current)
            & (MessageRow.created_at < before)
            & (MessageRow.status != MessageStatus.PENDING.value)
        )
        return await self._batch("delete old messages", MessageRow, old, limit=limit)

    async def delete_old_usage(self, before: datetime, *, limit: int) -> int:
        """Usage rows of turns before `before`."""
        old = UsageRow.created_at < before
        return await self._batch("delete old usage rows", UsageRow, old, limit=limit)

    async def _batch(
        self,
        action: str,
        rows: type[MessageRow | ChatRow | UsageRow],
        where: ColumnElement[bool],
        *,
        limit: int,
    ) -> int:
        """Delete at most `limit` rows matching `where`, oldest ids first: how many."""
        picked = select(rows.id).where(where).order_by(rows.id).limit(limit)
        statement = (
            delete(rows).where(rows.id.in_(picked)).execution_options(synchronize_session=False)
        )
        with translating(action):
            async with self.writing() as session:
                result = await session.execute(statement)
        return int(getattr(result, "rowcount", 0) or 0)


def _archived_before(before: datetime) -> ColumnElement[bool]:
    """Archived long enough ago, and not reopened as some channel's current chat."""
    current = select(ChannelRow.current_chat_id).where(ChannelRow.current_chat_id.is_not(None))
    return (
        ChatRow.archived_at.is_not(None)
        & (ChatRow.archived_at < before)
        & ChatRow.id.not_in(current)
    )
