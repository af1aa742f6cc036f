"""One reply being generated: deltas in, visible text out to the chat, the whole kept for storage.

Separates reasoning from the answer, shows it as the channel asked, and retries once
when an endpoint refuses our max-tokens field. Knows the ports only.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator

from bot.domain import CompletionRequest, Delta, MessageStatus, ReasoningDisplay
from bot.errors import EndpointRejected
from bot.ports import Clock, CompletionClient
from bot.reasoning import ReasoningPresenter, Split, ThinkSplitter
from bot.service.retries import OptionsLearned, Retries, Stricter
from bot.streaming import ReplyStream
from bot.text import SurrogateJoiner

STOPPED_NOTE = "*(stopped)*"
EMPTY_REPLY_NOTE = "*(the model sent an empty reply)*"
CAPPED_NOTE = "*(reply cut: it grew past {limit} characters)*"


class Generation:
    """Accumulates one reply; the token loop only appends, never waits for the platform."""

    def __init__(
        self,
        client: CompletionClient,
        stream: ReplyStream,
        *,
        clock: Clock,
        display: ReasoningDisplay,
        max_reply_chars: int,
    ) -> None:
        self._client = client
        self._stream = stream
        self._clock = clock
        self._max_reply_chars = max_reply_chars
        self._splitter = ThinkSplitter()
        self._content_joiner = SurrogateJoiner()
        self._reasoning_joiner = SurrogateJoiner()
        self._presenter = ReasoningPresenter(display)
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self.chars = 0
        self.finish_reason: str | None = None
        self.first_token_at: float | None = None
        self.capped = False
        self.notice = ""  # told once under a complete reply, e.g. a post-processing switch

    @property
    def content(self) -> str:
        return "".join(self._content)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    async def run(
        self,
        request: CompletionRequest,
        *,
        on_options_learned: OptionsLearned,
        stricter: Stricter | None = None,
    ) -> None:
        """Stream the reply, retrying what an endpoint refused before any token came
        (see `Retries.after`: the same retries as /test's)."""
        retries = Retries(on_options_learned=on_options_learned, stricter=stricter)
        while True:
            try:
                await self._stream_reply(request)
                break
            except EndpointRejected as exc:
                if self.first_token_at is not None:  # text was shown: no silent retry
                    raise
                request = await retries.after(request, exc)
                self.notice = retries.notice or self.notice
        self._take_reasoning(self._reasoning_joiner.finish())
        self._show(self._splitter.feed(self._content_joiner.finish()))
        self._show(self._splitter.finish())
        self._stream.append(self._presenter.close())

    async def _stream_reply(self, request: CompletionRequest) -> None:
        # aclosing: the HTTP stream closes as soon as the loop ends early (the cap).
        async with contextlib.aclosing(self._client.stream(request)) as deltas:
            await self._consume(deltas)

    async def _consume(self, deltas: AsyncGenerator[Delta, None]) -> None:
        split, content_joiner = self._splitter.feed, self._content_joiner.feed
        async for delta in deltas:
            if delta.reasoning:
                self._take_reasoning(self._reasoning_joiner.feed(delta.reasoning))
            if delta.content:
                if self.first_token_at is None:
                    self.first_token_at = self._clock.now()
                self._show(split(content_joiner(delta.content)))
                if self.chars > self._max_reply_chars:
                    self.capped = True
                    self.finish_reason = "length"
                    return
            if delta.finish_reason:
                self.finish_reason = delta.finish_reason

    def _take_reasoning(self, piece: str) -> None:
        if not piece:
            return
        if self.first_token_at is None:
            self.first_token_at = self._clock.now()
        self._reasoning.append(piece)
        self._stream.append(self._presenter.reasoning(piece))

    def _show(self, split: Split) -> None:
        if split.reasoning:
            self._take_reasoning(split.reasoning)
        if split.answer:
            self._content.append(split.answer)
            self.chars += len(split.answer)
            self._stream.append(self._presenter.answer(split.answer))

    def note(self, status: MessageStatus, error_text: str | None) -> str:
        """The lines added under the reply: why it ended, when that is not plain success, and
        any notice (an image left out, a setting learned), which holds however it ended."""
        return "\n".join(line for line in (self._ending(status, error_text), self.notice) if line)

    def _ending(self, status: MessageStatus, error_text: str | None) -> str:
        if status is MessageStatus.STOPPED:
            return STOPPED_NOTE
        if status is MessageStatus.ERROR:
            return f"⚠️ {error_text}"
        if self.capped:
            return CAPPED_NOTE.format(limit=self._max_reply_chars)
        if not self.content.strip() and not self.notice:
            return EMPTY_REPLY_NOTE
        return ""
