"""A channel's archived chats: listing them, making one current again, storing an imported one.

Knows rows and SQL only; what the list looks like to people is the /chats command's business.
Each change is one transaction that locks the channel's row first, as /reset does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Row, Select, delete, func, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.domain import SAID_STATUSES, ChannelKey, ChatId, MessageStatus, Role
from bot.core.kept_chats import ChatListing, ChatSummary, KeptMessage
from bot.storage.rows import channel_is
from bot.storage.tables import ChannelRow, ChatRow, MessageRow, utcnow
from bot.storage.transactions import Transactions, lock_channel, translating

IMPORT_BATCH = 500
"""Rows per INSERT of an imported chat: between batches the event loop serves other chats."""
OPENING_READ_CHARS = 500
"""How much of a chat's first message a summary carries: a list shows one short line of it."""
_COUNTED = or_(
    MessageRow.role == Role.USER.value,
    MessageRow.status.in_([status.value for status in SAID_STATUSES]),
)
"""Messages that were part of the conversation: a person's, and replies that were said (a
failed or pending reply is not counted, as /export leaves it out)."""


class ChatArchiveStore(Transactions):
    """Implements the `Store` port's archived-chat methods on SQLite and PostgreSQL."""

    async def archived_chats(self, key: ChannelKey, *, limit: int) -> ChatListing:
        """Empty for a channel never seen; chats holding no message (a /reset of an empty
        chat) are not listed, so the numbers count only chats worth reopening."""
        with translating("list the archived chats"):
            async with self.reading() as session:
                channel_id = await session.scalar(select(ChannelRow.id).where(channel_is(key)))
                if channel_id is None:
                    return ChatListing((), 0)
                listed = _archived(channel_id)
                total = await session.scalar(select(func.count()).select_from(listed.subquery()))
                rows = (await session.execute(listed.limit(max(limit, 0)))).all()
                chats = [
                    await _summary(session, number, row) for number, row in enumerate(rows, start=1)
                ]
        return ChatListing(tuple(chats), total or 0)

    async def reopen_chat(self, key: ChannelKey, number: int) -> ChatSummary | None:
        if number < 1:
            return None
        with translating("reopen the chat"):
            async with self.writing() as session:
                channel = await lock_channel(session, key)
                row = (
                    await session.execute(_archived(channel.id).offset(number - 1).limit(1))
                ).one_or_none()
                if row is None:
                    return None
                summary = await _summary(session, number, row)
                chat = await session.get(ChatRow, row.id)
                if chat is None:  # the channel is locked; a chat cannot vanish under it
                    return None
                await _retire_current(session, channel)
                chat.archived_at = None
                channel.current_chat_id = chat.id
                return summary

    async def import_chat(self, key: ChannelKey, messages: Sequence[KeptMessage]) -> ChatId:
        """Rows are inserted in order (history is ordered by id) with executemany, in
        batches: the ORM's unit of work spent seconds of the event loop on 10,000 rows."""
        with translating("store the imported chat"):
            async with self.writing() as session:
                channel = await lock_channel(session, key)
                await _retire_current(session, channel)
                chat = ChatRow(channel_id=channel.id)
                session.add(chat)
                await session.flush()
                rows = [_row(ChatId(chat.id), message) for message in messages]
                for start in range(0, len(rows), IMPORT_BATCH):
                    await session.execute(insert(MessageRow), rows[start : start + IMPORT_BATCH])
                channel.current_chat_id = chat.id
                return ChatId(chat.id)


def _archived(channel_id: int) -> Select[int, int, datetime, datetime]:
    """The channel's archived chats that hold counted messages, the last archived first,
    with their message count and the dates of their first and last message."""
    return (
        select(
            ChatRow.id,
            func.count(MessageRow.id).label("count"),
            func.min(MessageRow.created_at).label("started"),
            func.max(MessageRow.created_at).label("ended"),
        )
        .join(MessageRow, MessageRow.chat_id == ChatRow.id)
        .where(ChatRow.channel_id == channel_id, ChatRow.archived_at.is_not(None), _COUNTED)
        .group_by(ChatRow.id, ChatRow.archived_at)
        .order_by(ChatRow.archived_at.desc(), ChatRow.id.desc())
    )


async def _summary(
    session: AsyncSession, number: int, row: Row[int, int, datetime, datetime]
) -> ChatSummary:
    chat_id, count, started, ended = row
    return ChatSummary(
        number=number,
        started_at=_as_utc(started),
        ended_at=_as_utc(ended),
        message_count=int(count),
        opening=await _opening(session, chat_id),
    )


def _as_utc(value: object) -> datetime | None:
    """An aggregate's date, aware: should a driver hand it back naive or as text, it is UTC,
    as every stored date is."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def _opening(session: AsyncSession, chat_id: int) -> str:
    """The first thing a person said in the chat (a greeting is often the same in every
    chat), else its first message; only its start is read, as a list shows no more."""
    start = func.substr(MessageRow.content, 1, OPENING_READ_CHARS)
    first = select(start).where(MessageRow.chat_id == chat_id, _COUNTED)
    by_person = first.where(MessageRow.role == Role.USER.value).order_by(MessageRow.id).limit(1)
    said = await session.scalar(by_person)
    if said is None:
        said = await session.scalar(first.order_by(MessageRow.id).limit(1))
    return said or ""


async def _retire_current(session: AsyncSession, channel: ChannelRow) -> None:
    """Archive the channel's current chat, or delete it when it holds no message at all: an
    empty chat would only clutter the list."""
    current = channel.current_chat_id
    if current is None:
        return
    held = await session.scalar(
        select(func.count(MessageRow.id)).where(MessageRow.chat_id == current)
    )
    channel.current_chat_id = None
    await session.flush()
    if held:
        chat = await session.get(ChatRow, current)
        if chat is not None:
            chat.archived_at = utcnow()
    else:
        await session.execute(
            delete(ChatRow)
            .where(ChatRow.id == current)
            .execution_options(synchronize_session=False)
        )


def _row(chat_id: ChatId, message: KeptMessage) -> dict[str, object]:
    """A person's message, or a reply whose other versions are kept as its swipes (the
    shape `replies.py` reads: content, reasoning and status per version)."""
    shown = message.current
    swipes = [
        {"content": v.content, "reasoning": v.reasoning, "status": MessageStatus.COMPLETE.value}
        for v in message.versions
    ]
    several = message.role is Role.ASSISTANT and len(swipes) > 1
    return {
        "chat_id": chat_id,
        "role": message.role.value,
        "author_name": message.name,
        "content": shown.content,
        "reasoning": shown.reasoning,
        "status": MessageStatus.COMPLETE.value,
        "swipes": swipes if several else None,
        "swipe_index": message.shown if several else 0,
        "created_at": message.sent_at,
        "updated_at": message.sent_at,
    }
