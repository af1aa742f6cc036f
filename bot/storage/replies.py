"""A reply's life after it is first written: settling it, its alternatives, extending it.

Alternatives ("swipes") live in the row's `swipes` JSON; the row's own columns
mirror the chosen one, so history reads and prompts never open the JSON.
"""

from __future__ import annotations

import logging

from sqlalchemy import Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.domain import SAID_STATUSES, ChatId, MessageId, MessageStatus, Role, StoredMessage
from bot.core.errors import StorageError, UsageError
from bot.storage.keeping import SqliteKeeping
from bot.storage.rows import to_stored_message
from bot.storage.secrets import SecretBox
from bot.storage.tables import MessageRow, utcnow
from bot.storage.transactions import Transactions, translating
from bot.storage.versions import (
    SHOWN_BEFORE,
    failed_empty,
    keep_late_reply,
    mirror,
    settle_reply,
    swipe_of,
)

_log = logging.getLogger(__name__)

NOTHING_TO_REDO = "There is no reply of mine to work on yet: say something first."
STILL_WRITING = "I'm still writing the last reply; wait for it, or /stop it."


class ReplyStore(Transactions):
    """The part of the store that writes replies after `begin_turn` created them.

    `keeping` writes streaming replies' partial text on SQLite (see `storage.keeping`);
    without it they go through an ordinary session. `owner` is this process's lease id
    (storage/leases.py): every reply it begins is marked as its own, so that another
    process settles it only once that lease has run out; None marks none (one process).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        secret_box: SecretBox | None,
        keeping: SqliteKeeping | None = None,
        owner: str | None = None,
    ) -> None:
        super().__init__(sessions, secret_box=secret_box)
        self._keeping = keeping
        self._owner = owner

    async def finish_turn(
        self,
        message_id: MessageId,
        *,
        content: str,
        reasoning: str,
        status: MessageStatus,
        finish_reason: str | None = None,
    ) -> None:
        """A reply that is no longer this process's to finish (another process settled it,
        taking this one for dead, and perhaps began a new version since) is added beside
        what is there as a version of its own, never written over one."""
        with translating("store the reply"):
            async with self.writing() as session:
                row = await session.get(MessageRow, message_id, with_for_update=True)
                if row is None:
                    raise StorageError(f"there is no stored message {message_id} to finish")
                if row.status != MessageStatus.PENDING.value or row.owner_process != self._owner:
                    _log.warning(
                        "reply %s was settled by another process while this one wrote it "
                        "(its lease had run out); keeping this text as another version",
                        message_id,
                    )
                    keep_late_reply(
                        row,
                        content=content,
                        reasoning=reasoning,
                        status=status,
                        finish_reason=finish_reason,
                    )
                    return
                settle_reply(
                    row,
                    content=content,
                    reasoning=reasoning,
                    status=status,
                    finish_reason=finish_reason,
                )

    async def save_partial(self, message_id: MessageId, *, content: str, reasoning: str) -> None:
        """Keep what a reply streaming now has shown, in one small UPDATE of a pending row.

        A row settled meanwhile is left alone: its final text is newer than this.
        """
        if self._keeping is not None:
            await self._keeping.save(
                message_id, content=content, reasoning=reasoning, owner=self._owner
            )
            return
        keep = (
            update(MessageRow)
            .where(
                MessageRow.id == message_id,
                MessageRow.status == MessageStatus.PENDING.value,
                MessageRow.owner_process.is_not_distinct_from(self._owner),
            )
            .values(partial=content, partial_reasoning=reasoning)
        )
        with translating("keep the reply so far"):
            async with self.writing() as session:
                await session.execute(keep)

    async def begin_regeneration(self, chat_id: ChatId) -> StoredMessage:
        with translating("start a new version of the reply"):
            async with self.writing() as session:
                row = await _last_reply(session, chat_id)
                before = to_stored_message(row)
                swipes = list(row.swipes or [swipe_of(row)])
                shown: int | None = row.swipe_index
                if failed_empty(row.status, row.content):
                    # A failure with nothing to show is replaced, not kept beside its remedy.
                    swipes.pop(row.swipe_index)
                    shown = None
                pending = {"content": "", "reasoning": "", "status": MessageStatus.PENDING.value}
                swipes.append(pending | {SHOWN_BEFORE: shown})
                row.swipes, row.swipe_index = swipes, len(swipes) - 1
                mirror(row, swipes[-1])
                row.token_count, row.token_counter = None, None
                row.owner_process = self._owner
                return before

    async def begin_continuation(self, chat_id: ChatId) -> StoredMessage:
        with translating("reopen the reply"):
            async with self.writing() as session:
                row = await _last_reply(session, chat_id)
                if row.status not in SAID_STATUSES or not row.content:
                    raise UsageError(
                        "My last reply broke off without words worth carrying on, so there "
                        "is nothing to continue; use /regenerate for a new one."
                    )
                before = to_stored_message(row)
                row.status = MessageStatus.PENDING.value
                row.owner_process = self._owner
                return before

    async def choose_swipe(self, chat_id: ChatId, step: int) -> StoredMessage:
        with translating("switch to another version of the reply"):
            async with self.writing() as session:
                row = await _last_reply(session, chat_id)
                swipes = list(row.swipes or [swipe_of(row)])
                wanted = row.swipe_index + step
                if not 0 <= wanted < len(swipes):
                    where = "newest" if step > 0 else "first"
                    more = ""
                    if step > 0:
                        answered = await session.scalar(_has_earlier_message(row))
                        more = (
                            " /regenerate writes another."
                            if answered
                            else " /greeting can open the chat with another greeting."
                        )
                    raise UsageError(
                        f"This is the {where} version of my last reply "
                        f"({row.swipe_index + 1} of {len(swipes)}).{more}"
                    )
                row.swipes, row.swipe_index = swipes, wanted
                mirror(row, swipes[wanted])
                row.token_count, row.token_counter = None, None
                row.updated_at = utcnow()
                await session.flush()
                return to_stored_message(row)


async def _last_reply(session: AsyncSession, chat_id: ChatId) -> MessageRow:
    """The chat's newest message, locked, if it is the bot's and settled."""
    newest = (
        select(MessageRow)
        .where(MessageRow.chat_id == chat_id)
        .order_by(MessageRow.id.desc())
        .limit(1)
        .with_for_update()
    )
    row = await session.scalar(newest)
    if row is None or row.role != Role.ASSISTANT.value:
        raise UsageError(NOTHING_TO_REDO)
    if row.status == MessageStatus.PENDING.value:
        raise UsageError(STILL_WRITING)
    return row


def _has_earlier_message(row: MessageRow) -> Select[tuple[bool]]:
    """Whether anything precedes the reply: if not, it is a greeting, which /regenerate
    cannot rewrite."""
    earlier = select(MessageRow.id).where(MessageRow.chat_id == row.chat_id, MessageRow.id < row.id)
    return select(exists(earlier))
