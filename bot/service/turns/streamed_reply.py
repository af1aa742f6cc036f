"""One reply as it streams in: deltas in, visible text out to the chat, the whole kept for storage.

Separates reasoning from the answer, shows it as the channel asked, cuts each at its cap,
and retries what an endpoint refused before any token came. Knows the ports only.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncGenerator

from bot.core.domain import (
    CompletionRequest,
    Delta,
    MessageStatus,
    ReasoningDisplay,
    TokenSource,
    TokenTally,
    Usage,
)
from bot.core.errors import EndpointRejected
from bot.core.ports import Clock, CompletionClient
from bot.prompt.budget import estimate_tokens
from bot.reply.reasoning import ReasoningPresenter, Split, ThinkSplitter
from bot.reply.streaming import ReplyStream
from bot.reply.text import SurrogateJoiner
from bot.service.turns.retries import OptionsLearned, Retries, Stricter

STOPPED_NOTE = "*(stopped)*"
SHUTDOWN_NOTE = "*(stopped: the bot is restarting)*"
"""Under a reply a shutdown stopped: nobody pressed Stop, so the chat is told why."""
EMPTY_REPLY_NOTE = "*(the model sent an empty reply)*"
CAPPED_NOTE = "*(reply cut: it grew past {limit} characters)*"
REASONING_CAPPED_NOTE = "*(reasoning cut: it grew past {limit} characters)*"
DEFAULT_MAX_REASONING_CHARS = 100_000
"""About 25,000 tokens: the long thinking of today's reasoning models fits, a flood does not."""


class TextCap:
    """How much more of a text may be kept. A piece that passes the limit is cut inside it,
    however long it is, and `hit` says the text was cut; anything after that is dropped."""

    __slots__ = ("hit", "limit", "room")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.room = limit
        self.hit = False

    def take(self, piece: str) -> str:
        """The part of `piece` that fits."""
        if len(piece) <= self.room:
            self.room -= len(piece)
            return piece
        kept, self.room, self.hit = piece[: self.room], 0, True
        return kept

    def note(self, words: str) -> str:
        return words.format(limit=self.limit) if self.hit else ""


class StreamedReply:
    """One reply as it streams in: shown as it comes, kept whole for storage, its end noted.

    The token loop only appends to the chat's stream; it never waits for the platform.
    """

    def __init__(
        self,
        client: CompletionClient,
        stream: ReplyStream,
        *,
        clock: Clock,
        display: ReasoningDisplay,
        max_reply_chars: int,
        max_reasoning_chars: int = DEFAULT_MAX_REASONING_CHARS,
    ) -> None:
        """The answer is cut at `max_reply_chars` and the stream closed there; reasoning is cut
        at `max_reasoning_chars` and the rest dropped while the answer is awaited."""
        self._client = client
        self._stream = stream
        self._clock = clock
        self._answer_cap = TextCap(max_reply_chars)
        self._reasoning_cap = TextCap(max_reasoning_chars)
        self._splitter = ThinkSplitter()
        self._content_joiner = SurrogateJoiner()
        self._reasoning_joiner = SurrogateJoiner()
        self._presenter = ReasoningPresenter(display)
        self._content: list[str] = []
        self._reasoning: list[str] = []
        self.chars = 0
        self.finish_reason: str | None = None
        self.first_token_at: float | None = None
        self.usage: Usage | None = None  # what the endpoint reported, merged over the stream
        self.answered = False  # the endpoint began a reply: a delta came
        self.notice = ""  # told once under a complete reply, e.g. a post-processing switch

    @property
    def content(self) -> str:
        return "".join(self._content)

    @property
    def reasoning(self) -> str:
        return "".join(self._reasoning)

    @property
    def capped(self) -> bool:
        """The answer reached the reply cap: the stream was closed there."""
        return self._answer_cap.hit

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
        request = dataclasses.replace(request, max_reasoning_chars=self._reasoning_cap.limit)
        # aclosing: the HTTP stream closes as soon as the loop ends early (the cap).
        async with contextlib.aclosing(self._client.stream(request)) as deltas:
            await self._consume(deltas)

    async def _consume(self, deltas: AsyncGenerator[Delta, None]) -> None:
        split, content_joiner = self._splitter.feed, self._content_joiner.feed
        answer_cap, reasoning_cap = self._answer_cap, self._reasoning_cap
        async for delta in deltas:
            self.answered = True
            if delta.usage is not None:
                self.usage = _merged(self.usage, delta.usage)
            if delta.reasoning and not reasoning_cap.hit:
                self._take_reasoning(self._reasoning_joiner.feed(delta.reasoning))
            if delta.content:
                if self.first_token_at is None:
                    self.first_token_at = self._clock.now()
                self._show(split(content_joiner(delta.content)))
                if answer_cap.hit:
                    self.finish_reason = "length"
                    return
            if delta.finish_reason:
                self.finish_reason = delta.finish_reason

    def token_tallies(self, prompt_estimate: int | None) -> tuple[TokenTally, TokenTally] | None:
        """What the prompt and the completion cost: the endpoint's `usage` for each side it
        reported, else estimated; None when the endpoint never began a reply (nothing ran).

        The prompt's estimate is `prompt_estimate`, the count made while building the prompt
        (the endpoint's tokenizer when it has one, else `estimate_tokens`). The completion's
        is `estimate_tokens` (bytes / 3.35) over the answer and reasoning streamed in this
        turn: asking the endpoint's tokenizer (the budget's `TokenBook`) would cost a request
        per turn, after the reply, holding the channel's lane, for a side most servers report
        anyway; so usage rows keep this estimate, marked estimated. Servers count reasoning
        as completion tokens, and so do we.
        """
        if not self.answered and self.usage is None:
            return None
        usage = self.usage or Usage()
        if usage.prompt_tokens is not None:
            prompt = TokenTally(usage.prompt_tokens, TokenSource.ENDPOINT)
        else:
            prompt = TokenTally(prompt_estimate or 0, TokenSource.ESTIMATED)
        if usage.completion_tokens is not None:
            completion = TokenTally(usage.completion_tokens, TokenSource.ENDPOINT)
        else:
            spoken = _estimate(self.content) + _estimate(self.reasoning)
            completion = TokenTally(spoken, TokenSource.ESTIMATED)
        return prompt, completion

    def _take_reasoning(self, piece: str) -> None:
        piece = self._reasoning_cap.take(piece)
        if not piece:
            return
        if self.first_token_at is None:
            self.first_token_at = self._clock.now()
        self._reasoning.append(piece)
        self._stream.append(self._presenter.reasoning(piece))

    def _show(self, split: Split) -> None:
        if split.reasoning:
            self._take_reasoning(split.reasoning)
        answer = self._answer_cap.take(split.answer)
        if answer:
            self._content.append(answer)
            self.chars += len(answer)
            self._stream.append(self._presenter.answer(answer))

    def note(
        self, status: MessageStatus, error_text: str | None, *, stopped: str = STOPPED_NOTE
    ) -> str:
        """The lines added under the reply: why it ended, when that is not plain success, and
        what holds however it ended: reasoning cut short, or a notice (an image left out, a
        setting learned). `stopped` is the note for a stopped reply (who stopped it)."""
        lines = (
            self._ending(status, error_text, stopped),
            self._reasoning_cap.note(REASONING_CAPPED_NOTE),
            self.notice,
        )
        return "\n".join(line for line in lines if line)

    def _ending(self, status: MessageStatus, error_text: str | None, stopped: str) -> str:
        if status is MessageStatus.STOPPED:
            return stopped
        if status is MessageStatus.ERROR:
            return f"⚠️ {error_text}"
        if self.capped:
            return self._answer_cap.note(CAPPED_NOTE)
        if not self.content.strip() and not self.notice:
            return EMPTY_REPLY_NOTE
        return ""


def _merged(old: Usage | None, new: Usage) -> Usage:
    """The latest report of each side wins; a side a later chunk leaves out keeps its value.

    vLLM's continuous usage repeats running totals on every chunk; others send one report,
    on the chunk with finish_reason (llama.cpp) or after it with no choices (OpenAI)."""
    if old is None:
        return new
    return Usage(
        prompt_tokens=new.prompt_tokens if new.prompt_tokens is not None else old.prompt_tokens,
        completion_tokens=(
            new.completion_tokens if new.completion_tokens is not None else old.completion_tokens
        ),
    )


def _estimate(text: str) -> int:
    """`estimate_tokens`, also for text with a lone surrogate (a hostile stream can send one)."""
    try:
        return estimate_tokens(text)
    except UnicodeEncodeError:
        return estimate_tokens(text.encode("utf-8", "surrogatepass").decode("utf-8", "replace"))
