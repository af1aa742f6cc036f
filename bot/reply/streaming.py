"""One reply streamed into platform messages: a buffer the token loop fills, an editor that paces.

Talks to the world only through the Replier and Clock ports; knows no SDK and no settings.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from types import TracebackType
from typing import Self

from bot.core.domain import MessageRef
from bot.core.errors import DeliveryError
from bot.core.ports import Clock, Replier, ShownTextKeeper
from bot.reply.layout import NOTE_SEPARATOR, ReplyLayout, Write
from bot.reply.pacing import ChannelBudget, write_paced

_log = logging.getLogger(__name__)

PLACEHOLDER = "…"
MAX_FINAL_FAILURES = 3
"""Failed attempts at the final text before giving up."""
MAX_FINAL_RATE_LIMITS = 5
"""Rate-limited attempts at the final text before it gives up; each waits its retry_after."""
ABORT_SECONDS = 10.0
"""How long a stream whose body failed keeps trying to deliver the text so far."""


class ReplyStream:
    """Streams one reply into one or more messages, paced by the channel's budget.

    `append` only buffers; an editor task sends the latest text whenever the budget
    allows, dropping intermediate states; how the text falls into messages is the
    ReplyLayout's. A DeliveryError with retry_after pauses the channel's budget and the
    latest text is retried afterwards; one without is logged and retried at the next
    slot, for the final text at most MAX_FINAL_FAILURES times.

    `stop` ends the delivery early: the message being written (or, between messages, one
    new message) takes what fits of the text and a note, and nothing after it is sent.
    `delivered` is the text the chat shows so far, as of the last write that succeeded.

    With a `keeper`, appended text waits until the keeper has stored the reply as it
    stood, and only then may be shown: what the chat sees is always in the store first.
    The keeper paces itself (one small write a second), so text comes out in steps of a
    second at most; the final text, a stop and a failure skip the wait, since the turn's
    own final write stores them.
    """

    def __init__(
        self,
        replier: Replier,
        *,
        budget: ChannelBudget,
        clock: Clock,
        placeholder: str = PLACEHOLDER,
        abort_seconds: float = ABORT_SECONDS,
        keeper: ShownTextKeeper | None = None,
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
        self._layout = ReplyLayout(self._limits)
        self._stopped = False
        self._changed = asyncio.Event()
        self._finishing = False
        self._final_failures = 0
        self._gave_up = False
        self._editor: asyncio.Task[None] | None = None
        self._keeper = keeper
        self._unkept: list[str] = []  # appended, not yet stored by the keeper, so not shown
        self._ended = asyncio.Event()  # finish, stop or failure: no more keeps are waited for

    @property
    def refs(self) -> list[MessageRef]:
        """The messages the reply occupies, in order; the placeholder's message first."""
        return list(self._refs)

    @property
    def delivered(self) -> str:
        """The appended text the chat shows now, in finished messages and the live one."""
        return self._layout.delivered

    async def __aenter__(self) -> Self:
        """Send the placeholder now (waiting only if the channel's budget is spent), unless
        the platform's limits say it has none; then the first words are the first send.

        Raises DeliveryError when it cannot be sent; the editor is not started then.
        """
        if self._editor is not None or self._refs:
            raise RuntimeError("a ReplyStream is entered once")
        if self._limits.placeholder:
            ref = await self._send_placeholder()
            self._refs.append(ref)
            self._layout.show_placeholder(ref, self._placeholder)
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
        """Buffer a piece of the reply; never waits and never touches the platform.

        After `stop` the piece is dropped: the chat asked to see no more.
        """
        if self._stopped:
            return
        if self._finishing:
            raise RuntimeError("append() after finish()")
        if delta:
            if self._keeper is None:
                self._layout.add(delta)
            else:
                self._unkept.append(delta)
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
            self._show_unkept()
            if note:
                self._layout.add(NOTE_SEPARATOR + note if self.chars else note)
            self._finishing = True
            self._changed.set()
        await asyncio.wait({editor})
        if not editor.cancelled():
            editor.result()

    def stop(self, note: str = "") -> bool:
        """Deliver no more than the message being written, ending it with `note`, so a
        backlog of messages waiting for the channel's budget is never sent; `finish()` then
        returns after that one write. False when everything was delivered already.
        """
        editor = self._editor
        if editor is None or editor.done() or self._stopped:
            return editor is not None and not editor.done()
        self._stopped, self._finishing = True, True
        self._show_unkept()
        self._layout.stop(note)
        self._changed.set()
        return True

    async def _abort(self, editor: asyncio.Task[None]) -> None:
        """The body failed: deliver the text so far for at most abort_seconds, then stop."""
        self._show_unkept()
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
        return await write_paced(
            functools.partial(self._replier.send, self._placeholder),
            budget=self._budget,
            clock=self._clock,
            retry_failures=False,
        )

    async def _edit_loop(self) -> None:
        """Send the latest text whenever there is news and a slot; stop once final."""
        while True:
            write = None if self._gave_up else self._layout.next_write()
            if write is None:
                if self._unkept and not self._finishing:
                    await self._keep_unkept()
                    continue
                if self._finishing:
                    return
                self._changed.clear()
                await self._changed.wait()
                continue
            delay = await self._budget.claim(self._clock)
            if delay > 0:
                await self._clock.sleep(delay)  # then re-plan: newer text may have come
                continue
            if not await self._perform(write):
                return

    async def _keep_unkept(self) -> None:
        """Have the keeper store the reply as it stands, then let the text so far be shown.

        Text appended while the keeper writes waits for the next keep. If the stream ends
        meanwhile, `_show_unkept` has released everything already.
        """
        assert self._keeper is not None
        wait = self._keeper.seconds_until_next_keep(self._clock.now())
        if wait > 0:
            await self._sleep_unless_ended(wait)  # then re-plan
            return
        covered = len(self._unkept)
        await self._keeper.keep()
        kept, self._unkept = self._unkept[:covered], self._unkept[covered:]
        for piece in kept:
            self._layout.add(piece)

    async def _sleep_unless_ended(self, seconds: float) -> None:
        """Wait for the next keep, but not past the stream's end: the last text needs none."""
        ended = asyncio.ensure_future(self._ended.wait())
        sleeping = asyncio.ensure_future(self._clock.sleep(seconds))
        try:
            await asyncio.wait({ended, sleeping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ended.cancel()
            sleeping.cancel()

    def _show_unkept(self) -> None:
        """The stream ends: release every piece to the layout, since the turn's final write
        stores what follows."""
        self._ended.set()
        for piece in self._unkept:
            self._layout.add(piece)
        self._unkept.clear()

    async def _perform(self, write: Write) -> bool:
        """Write `write` in the slot just claimed; False when the stream gives up on its
        final text."""
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
        else:
            self.edits += 1
            ref = write.ref
        waiting = self._layout.waiting_chars(write)
        self._layout.written(write, ref)  # the chat shows it: `delivered` moves on
        self._final_failures = 0
        _log.debug(
            "reply %s: message %d, %d chars, %d chars waiting, sends=%d edits=%d",
            "send" if write.ref is None else "edit",
            len(self._refs),
            len(text),
            waiting,
            self.sends,
            self.edits,
        )
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
            self._budget.refused(exc, retrying=False)
            self._gave_up = True
            return False
        self._budget.refused(exc, retrying=True)
        return True
