"""A reply's versions inside its row: settling the chosen one, and mirroring it.

Alternatives ("swipes") live in the row's `swipes` JSON; the row's own columns mirror the
chosen one. Plain functions over a locked `MessageRow`; the transactions are the callers'.
"""

from __future__ import annotations

from typing import Any, TypeGuard

from bot.core.domain import MessageStatus
from bot.storage.tables import MessageRow, utcnow

SHOWN_BEFORE = "shown_before"
"""Key of a pending alternative: the index of the version shown when it was begun."""


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
    if regenerated and failed_empty(status.value, content):
        dropped = swipes.pop(row.swipe_index)
        row.swipe_index = _index_shown_before(dropped, len(swipes), row.swipe_index - 1)
        mirror(row, swipes[row.swipe_index])
    else:
        pending = swipes[row.swipe_index] if swipes else {}
        row.content, row.reasoning = content, reasoning
        row.status, row.finish_reason = status.value, finish_reason
        if swipes:
            swipes[row.swipe_index] = swipe_of(row)
        if regenerated and status is not MessageStatus.COMPLETE:
            shown = pending.get(SHOWN_BEFORE)
            if _valid_index(shown, len(swipes)) and _is_whole(swipes[shown]):
                row.swipe_index = shown
                mirror(row, swipes[shown])
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
    if failed_empty(status.value, content):
        return
    swipes = list(row.swipes or [swipe_of(row)])
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
        mirror(row, swipes[-1])
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


def failed_empty(status: str, content: str) -> bool:
    """A version that ended without finishing and without a word: nothing worth keeping."""
    return status != MessageStatus.COMPLETE.value and not content


def swipe_of(row: MessageRow) -> dict[str, Any]:
    """The row's chosen version as it is kept in `swipes`."""
    return {
        "content": row.content,
        "reasoning": row.reasoning,
        "status": row.status,
        "finish_reason": row.finish_reason,
    }


def mirror(row: MessageRow, swipe: dict[str, Any]) -> None:
    """Copy an alternative into the row's columns; malformed JSON degrades to empty text."""
    content, reasoning = swipe.get("content"), swipe.get("reasoning")
    status, finish = swipe.get("status"), swipe.get("finish_reason")
    row.content = content if isinstance(content, str) else ""
    row.reasoning = reasoning if isinstance(reasoning, str) else ""
    known = {member.value for member in MessageStatus}
    row.status = status if status in known else MessageStatus.COMPLETE.value
    row.finish_reason = finish if isinstance(finish, str) else None
