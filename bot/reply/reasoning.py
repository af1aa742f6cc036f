"""A model's reasoning kept apart from its answer: a streaming `<think>` splitter, and its display.

Pure text: knows nothing of endpoints, wire fields or platforms.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from bot.core.domain import ReasoningDisplay

__all__ = [
    "IMPLICIT_CLOSE",
    "OPEN_TAGS",
    "REASONING_MAX_CHARS",
    "THINKING_LINE",
    "ReasoningPresenter",
    "Split",
    "ThinkSplitter",
    "present",
    "split_reasoning",
]

OPEN_TAGS = ("<think>", "<thinking>", "<reasoning>")
"""The opening tags recognised at the start of a reply; each closes with its own `</…>`."""
IMPLICIT_CLOSE = "</think>"
"""What ends the reasoning when the prompt already opened the block (`expect_open_think`)."""
REASONING_MAX_CHARS = 1500
"""How much reasoning is shown: enough to follow the thought, short of a Discord message."""
THINKING_LINE = "💭 Thinking…"
MAX_HELD_WHITESPACE = 4096
"""Whitespace held back (before the answer, or at the end of the reasoning so far) is kept to
this many characters: a server that sends nothing but whitespace must not fill our memory."""

_CLOSE_OF = {tag: f"</{tag[1:]}" for tag in OPEN_TAGS}


@dataclass(frozen=True, slots=True)
class Split:
    """Text a delta added to the visible answer and to the reasoning (either may be empty)."""

    answer: str = ""
    reasoning: str = ""


class _State(enum.Enum):
    START = enum.auto()  # nothing but whitespace and a possible opening tag seen yet
    REASONING = enum.auto()
    ANSWER = enum.auto()
    DONE = enum.auto()


class ThinkSplitter:
    """Separates a leading `<think>…</think>` block from the answer while the reply streams.

    SillyTavern's parse of a finished reply, done while it streams: only a block at the
    very start counts (leading whitespace allowed); a tag later in the answer is answer
    text. The reasoning is trimmed at both ends and the answer's leading whitespace after
    a block is dropped; the answer's trailing whitespace is kept, because holding it back
    would stall the stream. Without a block the content passes through unchanged.

    Holding back: at the start only leading whitespace and a possible opening-tag prefix
    (at most 10 characters) wait for a decision; "Hello <" is answer at once. Inside the
    block, at most a closing-tag prefix and trailing whitespace wait. Each delta costs
    O(len(delta)) plus the tag length: nothing is re-scanned. A run of whitespace held back
    keeps at most MAX_HELD_WHITESPACE characters (a flood of it loses the rest).

    `expect_open_think`: the prompt template already opened `<think>` (DeepSeek-R1, QwQ,
    text-generation-webui), so the reply starts inside the reasoning and the first
    `</think>` ends it. Only the caller knows this; without the flag an end-only
    `</think>` cannot be told from answer text until it arrives, and recognising it then
    would mean holding the whole answer back or taking back text already shown. A
    reply that never closes the block is all reasoning.
    """

    __slots__ = ("_answer_started", "_close", "_held", "_implicit", "_lead", "_pending", "_state")

    def __init__(self, *, expect_open_think: bool = False) -> None:
        self._implicit = expect_open_think
        self._state = _State.START
        self._lead = ""  # START: leading whitespace
        self._held = ""  # START: an opening-tag prefix; REASONING: a closing-tag prefix
        self._close = IMPLICIT_CLOSE
        self._pending: str | None = None  # REASONING: trailing whitespace; None: no text yet
        self._answer_started = False

    def feed(self, delta: str) -> Split:
        """The answer and reasoning characters `delta` makes certain."""
        if self._state is _State.START:
            return self._feed_start(delta)
        if self._state is _State.REASONING:
            return self._feed_reasoning(delta)
        if self._state is _State.ANSWER:
            return Split(answer=self._answer(delta))
        raise RuntimeError("feed() after finish(): a ThinkSplitter serves one reply")

    def finish(self) -> Split:
        """Whatever was held back, at the end of the reply; the splitter is then spent."""
        state, held = self._state, self._held
        self._state, self._held = _State.DONE, ""
        if state is _State.START:
            if self._implicit:
                return Split(reasoning=self._reasoning(held, final=True))
            return Split(answer=self._lead + held)
        if state is _State.REASONING:
            return Split(reasoning=self._reasoning(held, final=True))
        return Split()

    def _feed_start(self, delta: str) -> Split:
        if not self._held:
            body = delta.lstrip()
            self._lead = _held_whitespace(self._lead, delta[: len(delta) - len(body)])
            delta = body
        text = self._held + delta
        if not text:
            return Split()
        tag = next((tag for tag in OPEN_TAGS if text.startswith(tag)), None)
        if tag is not None:
            self._enter_reasoning(_CLOSE_OF[tag])
            return self._feed_reasoning(text[len(tag) :])
        if any(tag.startswith(text) for tag in OPEN_TAGS):
            self._held = text
            return Split()
        if self._implicit:
            self._enter_reasoning(IMPLICIT_CLOSE)
            return self._feed_reasoning(text)
        self._state, self._held, self._answer_started = _State.ANSWER, "", True
        return Split(answer=self._lead + text)

    def _enter_reasoning(self, close: str) -> None:
        self._state, self._held, self._close = _State.REASONING, "", close

    def _feed_reasoning(self, delta: str) -> Split:
        text = self._held + delta
        end = text.find(self._close)
        if end >= 0:
            reasoning = self._reasoning(text[:end], final=True)
            self._state, self._held = _State.ANSWER, ""
            return Split(self._answer(text[end + len(self._close) :]), reasoning)
        keep = _tag_prefix_at_end(text, self._close)
        self._held = text[len(text) - keep :]
        return Split(reasoning=self._reasoning(text[: len(text) - keep], final=False))

    def _reasoning(self, piece: str, *, final: bool) -> str:
        """`piece` trimmed as the whole reasoning will be: no leading or trailing whitespace."""
        if self._pending is None:
            piece = piece.lstrip()
            if not piece:
                return ""
            self._pending = ""
        body = piece.rstrip()
        if final:
            pending, self._pending = self._pending, ""
            return pending + body if body else ""
        if not body:
            self._pending = _held_whitespace(self._pending, piece)
            return ""
        out = self._pending + body
        self._pending = _held_whitespace("", piece[len(body) :])
        return out

    def _answer(self, piece: str) -> str:
        if not self._answer_started:
            piece = piece.lstrip()
            self._answer_started = bool(piece)
        return piece


def _held_whitespace(held: str, more: str) -> str:
    """`held` and `more`, cut to MAX_HELD_WHITESPACE characters."""
    if len(held) >= MAX_HELD_WHITESPACE:
        return held
    return (held + more[:MAX_HELD_WHITESPACE])[:MAX_HELD_WHITESPACE]


def _tag_prefix_at_end(text: str, tag: str) -> int:
    """Length of the longest proper prefix of `tag` that `text` ends with."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def split_reasoning(text: str, *, expect_open_think: bool = False) -> Split:
    """A whole reply split at once, with exactly the streaming splitter's rules."""
    splitter = ThinkSplitter(expect_open_think=expect_open_think)
    first, last = splitter.feed(text), splitter.finish()
    return Split(first.answer + last.answer, first.reasoning + last.reasoning)


def present(answer: str, reasoning: str, mode: ReasoningDisplay, *, thinking: bool) -> str:
    """The chat text for a reply: the answer, with its reasoning shown as `mode` says.

    `thinking` means the reasoning is still streaming and no answer has come yet: HIDE
    (and any mode with no reasoning text) then shows THINKING_LINE, so the chat sees life.
    Reasoning over REASONING_MAX_CHARS keeps its tail: while it streams the tail is what
    moves, and at the end it is the conclusion the answer follows from. This re-renders
    the whole text; ReasoningPresenter is the same display for an append-only reply.
    """
    reasoning, answer = reasoning.strip(), answer.lstrip()
    if mode is ReasoningDisplay.HIDE or not reasoning:
        return THINKING_LINE if thinking and not answer else answer
    shown = _cap(reasoning)
    if mode is ReasoningDisplay.QUOTE:
        block = "\n".join(f"> {line}" for line in shown.split("\n"))
    else:
        block = f"||{_escape_spoiler(shown)}||"
    return f"{block}\n\n{answer}" if answer else block


def _cap(reasoning: str, limit: int = REASONING_MAX_CHARS) -> str:
    """The last `limit` characters behind an ellipsis, starting at a word where one is near."""
    if len(reasoning) <= limit:
        return reasoning
    cut = len(reasoning) - limit + 1
    tail = reasoning[cut:]
    if not reasoning[cut - 1].isspace():
        space = next((i for i, char in enumerate(tail[:40]) if char.isspace()), -1)
        tail = tail[space + 1 :]
    return "…" + tail.lstrip()


def _escape_spoiler(text: str) -> str:
    """Backslash-escape `\\` and `|`, so no `||` inside (or a `\\` at the end) ends the spoiler."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


class ReasoningPresenter:
    """`present` for an append-only reply: each call returns the text to append next.

    What cannot be taken back is never written: HIDE shows no thinking line (the
    reply's placeholder shows life), long reasoning keeps its head, then "…", and
    reasoning that arrives after the answer began is not shown (it is still stored).
    Reasoning is trimmed like ThinkSplitter's; the answer's leading whitespace goes.
    """

    __slots__ = ("_answering", "_mode", "_pending", "_shown")

    def __init__(self, mode: ReasoningDisplay) -> None:
        self._mode = mode
        self._shown = 0  # reasoning characters shown; -1 once the cap's "…" is out
        self._pending = ""  # trailing whitespace, written only if more reasoning follows
        self._answering = False

    def reasoning(self, piece: str) -> str:
        """The next piece of the quote or spoiler; opens it on the first visible character."""
        if self._mode is ReasoningDisplay.HIDE or self._answering or self._shown < 0:
            return ""
        opening = self._shown == 0
        piece = piece.lstrip() if opening else piece
        body = piece.rstrip()
        if not body:
            self._pending += piece if not opening else ""
            return ""
        text, self._pending = self._pending + body, piece[len(body) :]
        room = REASONING_MAX_CHARS - self._shown
        if len(text) > room:
            text, self._shown, self._pending = text[:room] + "…", -1, ""
        else:
            self._shown += len(text)
        if self._mode is ReasoningDisplay.QUOTE:
            return ("> " if opening else "") + text.replace("\n", "\n> ")
        return ("||" if opening else "") + _escape_spoiler(text)

    def answer(self, piece: str) -> str:
        """The answer piece, after the end of the reasoning block when this is the first one."""
        if self._answering:
            return piece
        piece = piece.lstrip()
        if not piece:
            return ""
        self._answering = True
        return self._end_reasoning("\n\n") + piece

    def close(self) -> str:
        """What ends the reply: the spoiler's closing marks if reasoning was all there was."""
        if self._answering:
            return ""
        self._answering = True
        return self._end_reasoning("")

    def _end_reasoning(self, gap: str) -> str:
        if self._mode is ReasoningDisplay.HIDE or self._shown == 0:
            return ""
        self._pending = ""
        return ("||" if self._mode is ReasoningDisplay.SPOILER else "") + gap
