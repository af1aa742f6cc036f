"""One reply streamed into platform messages: a buffer the token loop fills, an editor that paces.

Talks to the world only through the Replier and Clock ports; knows no SDK and no settings.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from bot.domain import MessageRef
from bot.errors import DeliveryError
from bot.pacing import CHANNEL_BURST_WRITES, ChannelBudget, Pacing, SystemClock, TokenBucket
from bot.ports import Clock, Replier
from bot.text import Chunk, next_chunk

__all__ = [
    "CHANNEL_BURST_WRITES",
    "ChannelBudget",
    "Pacing",
    "ReplyStream",
    "SystemClock",
    "TokenBucket",
]

_log = logging.getLogger(__name__)

PLACEHOLDER = "…"
NOTE_SEPARATOR = "\n\n"
MAX_FINAL_FAILURES = 3
MAX_FINAL_RATE_LIMITS = 5  # each waits its retry_after first
"""Failed attempts at the final text (or the placeholder) before the stream gives up."""
ABORT_SECONDS = 10.0
"""How long a stream whose body failed keeps trying to deliver the text so far."""


@dataclass(frozen=True, slots=True)
class _Write:
    ref: MessageRef | None  # None: send a new message
    chunk: Chunk
    finalizes: bool  # the chunk is this message's last state; the tail moves past it


class ReplyStream:
    """Streams one reply into one or more messages, paced by the channel's budget.

    `append` only buffers; an editor task sends the latest text whenever the budget
    allows, dropping intermediate states. Text past the platform's limit continues in
    new messages, cut by `text.next_chunk`; only the unfinished tail is ever re-cut.
    A DeliveryError with retry_after pauses the channel's budget and the latest text is
    retried afterwards; one without is logged and retried at the next slot, for the
    final text at most MAX_FINAL_FAILURES times. Whitespace-only text is never sent,
    so the placeholder stays until there is something to show; nor is an edit that
    only adds trailing whitespace, which platforms trim anyway.
    """

    def __init__(
        self,
        replier: Replier,
        *,
        budget: ChannelBudget,
        clock: Clock,
        placeholder: str = PLACEHOLDER,
        abort_seconds: float = ABORT_SECONDS,
    ) -> None:
        if not placeholder.strip():
            raise ValueError("a placeholder must have visible text")
        self._replier = replier
        self._limits = replier.limits
        self._budget = budget
        self._clock = clock
        self._placeholder = placeholder
        self._abort_seconds = abort_seconds
        self.sends = 0
        self.edits = 0
        self.chars = 0
        self._refs: list[MessageRef] = []
        self._pending: list[str] = []
        self._tail = ""  # appended text not yet final in a message
        self._tail_fence: str | None = None  # the fence open where the tail begins
        self._tail_line_start = True
        self._live: MessageRef | None = None  # the message the tail is shown in
        self._shown = ""  # what the live message shows now
        self._changed = asyncio.Event()
        self._finishing = False
        self._final_failures = 0
        self._gave_up = False
        self._editor: asyncio.Task[None] | None = None

    @property
    def refs(self) -> list[MessageRef]:
        """The messages the reply occupies, in order; the placeholder's message first."""
        return list(self._refs)

    async def __aenter__(self) -> Self:
        """Send the placeholder now (waiting only if the channel's budget is spent), unless
        the platform's limits say it has none; then the first words are the first send.

        Raises DeliveryError when it cannot be sent; the editor is not started then.
        """
        if self._editor is not None or self._refs:
            raise RuntimeError("a ReplyStream is entered once")
        if self._limits.placeholder:
            self._live = await self._send_placeholder()
            self._refs.append(self._live)
            self._shown = self._placeholder
            self.sends += 1
        self._editor = asyncio.create_task(self._edit_loop(), name="reply-stream-editor")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Without an error this is `finish()`; after one, deliver what there is, bounded."""
        if self._editor is None:
            return
        if exc_type is None:
            await self.finish()
        else:
            await self._abort(self._editor)

    def append(self, delta: str) -> None:
        """Buffer a piece of the reply; never waits and never touches the platform."""
        if self._finishing:
            raise RuntimeError("append() after finish()")
        if delta:
            self._pending.append(delta)
            self.chars += len(delta)
            self._changed.set()

    async def finish(self, note: str = "") -> None:
        """Deliver the final text, then return; `note` follows the text after a blank line.

        Re-raises anything but a DeliveryError that the editor met (a bug, not the platform).
        """
        editor = self._editor
        if editor is None:
            raise RuntimeError("finish() outside `async with`")
        if not self._finishing:
            if note:
                self._pending.append(NOTE_SEPARATOR + note if self.chars else note)
            self._finishing = True
            self._changed.set()
        await asyncio.wait({editor})
        if not editor.cancelled():
            editor.result()

    async def _abort(self, editor: asyncio.Task[None]) -> None:
        """The body failed: deliver the text so far for at most abort_seconds, then stop."""
        self._finishing = True
        self._changed.set()
        if not editor.done():
            deadline = asyncio.ensure_future(self._clock.sleep(self._abort_seconds))
            try:
                await asyncio.wait({editor, deadline}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                deadline.cancel()
                if not editor.done():
                    _log.warning("gave up delivering an interrupted reply")
                    editor.cancel()
                await asyncio.wait({editor, deadline})
        if not editor.cancelled() and (error := editor.exception()) is not None:
            _log.error("the reply editor failed", exc_info=error)

    async def _send_placeholder(self) -> MessageRef:
        attempts = 0
        while True:
            while (delay := self._budget.delay_until_available(self._clock.now())) > 0:
                await self._clock.sleep(delay)
            self._budget.take(self._clock.now())
            try:
                return await self._replier.send(self._placeholder)
            except DeliveryError as exc:
                attempts += 1
                if exc.retry_after is None or attempts >= MAX_FINAL_FAILURES:
                    raise
                self._budget.pause_until(self._clock.now() + exc.retry_after)
                _log.warning("placeholder rate-limited; retrying in %.2fs", exc.retry_after)

    async def _edit_loop(self) -> None:
        """Send the latest text whenever there is news and a slot; stop once final."""
        while True:
            write = self._next_write()
            if write is None:
                if self._finishing:
                    return
                self._changed.clear()
                await self._changed.wait()
                continue
            delay = self._budget.delay_until_available(self._clock.now())
            if delay > 0:
                await self._clock.sleep(delay)  # then re-plan: newer text may have come
                continue
            if not await self._perform(write):
                return

    def _next_write(self) -> _Write | None:
        """The one write that brings the messages closer to the text, or None."""
        if self._pending:
            self._tail += "".join(self._pending)
            self._pending.clear()
        while self._tail and not self._gave_up:
            chunk = next_chunk(
                self._tail,
                self._limits.max_length,
                measure=self._limits.measure,
                open_fence=self._tail_fence,
                line_start=self._tail_line_start,
            )
            finalizes = len(chunk.body) < len(self._tail)
            text = chunk.text
            if not text.strip():  # platforms refuse blank messages
                if not finalizes:
                    return None
                self._advance(chunk)
                continue
            if self._live is None:
                return _Write(None, chunk, finalizes)
            # Platforms trim trailing whitespace: an edit that only adds some is a lost slot.
            if text.rstrip() != self._shown.rstrip():
                return _Write(self._live, chunk, finalizes)
            if not finalizes:
                return None
            self._advance(chunk)
            self._live, self._shown = None, ""
        return None

    async def _perform(self, write: _Write) -> bool:
        """Spend a slot on `write`; False when the stream gives up on its final text."""
        self._budget.take(self._clock.now())
        text = write.chunk.text
        try:
            if write.ref is None:
                ref = await self._replier.send(text)
            else:
                await self._replier.edit(write.ref, text)
        except DeliveryError as exc:
            return self._after_failure(exc, sending=write.ref is None)
        if write.ref is None:
            self.sends += 1
            self._refs.append(ref)
            self._live = ref
        else:
            self.edits += 1
        self._shown = text
        self._final_failures = 0
        _log.debug(
            "reply %s: message %d, %d chars, %d chars waiting, sends=%d edits=%d",
            "send" if write.ref is None else "edit",
            len(self._refs),
            len(text),
            len(self._tail) - len(write.chunk.body),
            self.sends,
            self.edits,
        )
        if write.finalizes:
            self._advance(write.chunk)
            self._live, self._shown = None, ""
        return True

    def _after_failure(self, exc: DeliveryError, *, sending: bool) -> bool:
        """Whether to keep trying. While finishing, every failure counts, rate limits too:
        a platform that keeps refusing must not hold the channel's turn for ever.
        """
        kind = "send" if sending else "edit"
        if self._finishing:
            self._final_failures += 1
        if exc.retry_after is not None:
            self._budget.pause_until(self._clock.now() + exc.retry_after)
            _log.warning("reply %s rate-limited; channel paused for %.2fs", kind, exc.retry_after)
            limit = MAX_FINAL_RATE_LIMITS
        else:
            _log.warning("reply %s failed (%s); retrying at the next slot", kind, exc)
            limit = MAX_FINAL_FAILURES
        if self._final_failures >= limit:
            _log.warning("gave up on a reply's final text after %d failures", self._final_failures)
            self._gave_up = True
            return False
        return True

    def _advance(self, chunk: Chunk) -> None:
        """The tail moves past a chunk that is final in its message."""
        self._tail = self._tail[len(chunk.body) :]
        self._tail_fence = chunk.fence_at_end
        self._tail_line_start = chunk.body.endswith("\n")
