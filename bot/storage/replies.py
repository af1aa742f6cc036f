"""A reply's life after it is first written: settling it, its alternatives, extending it.

Alternatives ("swipes") live in the row's `swipes` JSON; the row's own columns
mirror the chosen one, so history reads and prompts never open the JSON.
"""

from __future__ import annotations

import logging
from typing import Any, TypeGuard

from sqlalchemy import Select, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.domain import SAID_STATUSES, ChatId, MessageId, MessageStatus, Role, StoredMessage
from bot.core.errors import StorageError, UsageError
from bot.storage.keeping import SqliteKeeping
from bot.storage.rows import to_stored_message
from bot.storage.secrets import SecretBox
from bot.storage.tables import MessageRow, utcnow
from bot.storage.transactions import Transactions, translating

_log = logging.getLogger(__name__)

NOTHING_TO_REDO = "There is no reply of mine to work on yet: say something first."
STILL_WRITING = "I'm still writing the last reply; wait for it, or /stop it."
SHOWN_BEFORE = "shown_before"
"""Key of a pending alternative: the index of the version shown when it was begun."""


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
                swipes = list(row.swipes or [_swipe_of(row)])
                shown: int | None = row.swipe_index
                if _failed_empty(row.status, row.content):
                    # A failure with nothing to show is replaced, not kept beside its remedy.
                    swipes.pop(row.swipe_index)
                    shown = None
                pending = {"content": "", "reasoning": "", "status": MessageStatus.PENDING.value}
                swipes.append(pending | {SHOWN_BEFORE: shown})
                row.swipes, row.swipe_index = swipes, len(swipes) - 1
                _mirror(row, swipes[-1])
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
                swipes = list(row.swipes or [_swipe_of(row)])
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
                _mirror(row, swipes[wanted])
                row.token_count, row.token_counter = None, None
                row.updated_at = utcnow()
                await session.flush()
                return to_stored_message(row)


def settle_reply(
    row: MessageRow,
    *,
    content: str,
    reasoning: str,
    status: MessageStatus,
    finish_reason: str | None,
) -> None:
    """Settle the row's chosen alternative.

    A regeneration that failed without any text is dropped. One that was stopped or failed
    part-way is kept to look at, but the version shown before it is chosen again when that
    one was whole: only a finished reply is history, and the model should not lose its last
    word to a broken retry.
    """
    swipes = list(row.swipes or ())
    regenerated = len(swipes) > 1
    if regenerated and _failed_empty(status.value, content):
        dropped = swipes.pop(row.swipe_index)
        row.swipe_index = _index_shown_before(dropped, len(swipes), row.swipe_index - 1)
        _mirror(row, swipes[row.swipe_index])
    else:
        pending = swipes[row.swipe_index] if swipes else {}
        row.content, row.reasoning = content, reasoning
        row.status, row.finish_reason = status.value, finish_reason
        if swipes:
            swipes[row.swipe_index] = _swipe_of(row)
        if regenerated and status is not MessageStatus.COMPLETE:
            shown = pending.get(SHOWN_BEFORE)
            if _valid_index(shown, len(swipes)) and _is_whole(swipes[shown]):
                row.swipe_index = shown
                _mirror(row, swipes[shown])
    row.swipes = swipes or None
    row.partial, row.partial_reasoning = None, None
    row.token_count, row.token_counter = None, None
    row.owner_process = None
    row.updated_at = utcnow()


def settle_cut_off(row: MessageRow) -> None:
    """Settle a pending reply whose writer is gone (a crash, a lease run out).

    What it had shown (saved while it streamed) is kept, marked interrupted: it is part of
    the conversation and /continue can carry it on. A continuation that showed nothing more
    goes back to the reply it extended; a new or regenerated reply that showed nothing is
    settled as any that failed without text (a regeneration's empty version is dropped, and
    the version shown before it is shown again).
    """
    shown, thought = row.partial or "", row.partial_reasoning or ""
    cut_off = bool(shown) or not row.content
    settle_reply(
        row,
        content=row.content + shown,
        reasoning=row.reasoning + thought,
        status=MessageStatus.INTERRUPTED if cut_off else MessageStatus.COMPLETE,
        finish_reason=row.finish_reason,
    )


def keep_late_reply(
    row: MessageRow,
    *,
    content: str,
    reasoning: str,
    status: MessageStatus,
    finish_reason: str | None,
) -> None:
    """Add a reply finished after its row was settled elsewhere as one more version.

    No version is written over: the one shown, one another process is writing now, and the
    cut-off text settled for this one all stay. A complete late reply is shown (what the
    chat saw finish) unless another process is writing the row; a late failure without
    text, or a version already stored (a retried write), adds nothing.
    """
    if _failed_empty(status.value, content):
        return
    swipes = list(row.swipes or [_swipe_of(row)])
    if any(_same_text(swipe, content, status) for swipe in swipes):
        return
    late = {
        "content": content,
        "reasoning": reasoning,
        "status": status.value,
        "finish_reason": finish_reason,
    }
    swipes.append(late)
    row.swipes = swipes
    if row.status != MessageStatus.PENDING.value and status is MessageStatus.COMPLETE:
        row.swipe_index = len(swipes) - 1
        _mirror(row, swipes[-1])
        row.token_count, row.token_counter = None, None
    row.updated_at = utcnow()


def _same_text(swipe: dict[str, Any], content: str, status: MessageStatus) -> bool:
    return swipe.get("content") == content and swipe.get("status") == status.value


def _is_whole(swipe: dict[str, Any]) -> bool:
    content = swipe.get("content")
    return swipe.get("status") == MessageStatus.COMPLETE.value and bool(content)


def _index_shown_before(swipe: dict[str, Any], count: int, fallback: int) -> int:
    shown = swipe.get(SHOWN_BEFORE)
    if _valid_index(shown, count):
        return shown
    return max(min(fallback, count - 1), 0)


def _valid_index(value: object, count: int) -> TypeGuard[int]:
    """An index read back from JSON, which a hand-edited or older row may lack or garble."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < count


def _failed_empty(status: str, content: str) -> bool:
    return status != MessageStatus.COMPLETE.value and not content


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


def _swipe_of(row: MessageRow) -> dict[str, Any]:
    return {
        "content": row.content,
        "reasoning": row.reasoning,
        "status": row.status,
        "finish_reason": row.finish_reason,
    }


def _mirror(row: MessageRow, swipe: dict[str, Any]) -> None:
    """Copy an alternative into the row's columns; malformed JSON degrades to empty text."""
    content, reasoning = swipe.get("content"), swipe.get("reasoning")
    status, finish = swipe.get("status"), swipe.get("finish_reason")
    row.content = content if isinstance(content, str) else ""
    row.reasoning = reasoning if isinstance(reasoning, str) else ""
    known = {member.value for member in MessageStatus}
    row.status = status if status in known else MessageStatus.COMPLETE.value
    row.finish_reason = finish if isinstance(finish, str) else None
