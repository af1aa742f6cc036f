"""Where one streamed reply stands across its platform messages, and the next write it needs.

Pure bookkeeping over the text and the platform's limits: no I/O, no clock, no budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.domain import MessageRef, PlatformLimits
from bot.reply.text import Chunk, next_chunk

NOTE_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Write:
    ref: MessageRef | None  # None: send a new message
    chunk: Chunk
    finalizes: bool  # the chunk is this message's last state; the tail moves past it


class ReplyLayout:
    """The text appended so far, split into messages that are final, the live one, and a tail.

    Text past the platform's limit continues in new messages, cut by `text.next_chunk`;
    only the unfinished tail is ever re-cut. Whitespace-only text is never written, so a
    placeholder stays until there is something to show; nor is an edit that only adds
    trailing whitespace, which platforms trim anyway. What the chat shows changes only in
    `written`, after the platform accepted a write: `delivered` is read from there.
    """

    def __init__(self, limits: PlatformLimits) -> None:
        self._limits = limits
        self._pending: list[str] = []
        self._tail = ""  # appended text not yet final in a message
        self._tail_fence: str | None = None  # the fence open where the tail begins
        self._tail_line_start = True
        self.live: MessageRef | None = None  # the message the tail is shown in
        self._shown = ""  # what the live message shows now
        self._shown_body = 0  # how much of the tail the live message shows
        self._finished: list[str] = []  # the parts of the text final in earlier messages
        self._stop_note: str | None = None  # set by stop(), applied at the next plan

    @property
    def delivered(self) -> str:
        """The appended text the chat shows now, in finished messages and the live one."""
        return "".join(self._finished) + self._tail[: self._shown_body]

    def waiting_chars(self, write: Write) -> int:
        """How much of the tail is still to come after `write`."""
        return len(self._tail) - len(write.chunk.body)

    def add(self, text: str) -> None:
        self._pending.append(text)

    def show_placeholder(self, ref: MessageRef, text: str) -> None:
        """The reply's first message shows a placeholder, and none of the text yet."""
        self.live, self._shown, self._shown_body = ref, text, 0

    def stop(self, note: str) -> None:
        """At the next plan, keep only what fits in one message with `note` after it."""
        self._stop_note = note

    def next_write(self) -> Write | None:
        """The one write that brings the messages closer to the text, or None."""
        if self._pending:
            self._tail += "".join(self._pending)
            self._pending.clear()
        if self._stop_note is not None:
            self._cut_at_stop(self._stop_note)
            self._stop_note = None
        while self._tail:
            chunk = self._next_chunk(self._limits.max_length)
            finalizes = len(chunk.body) < len(self._tail)
            text = chunk.text
            if not text.strip():  # platforms refuse blank messages
                if not finalizes:
                    return None
                self._advance(chunk)
                continue
            if self.live is None:
                return Write(None, chunk, finalizes)
            # Platforms trim trailing whitespace: an edit that only adds some is a lost slot.
            if text.rstrip() != self._shown.rstrip():
                return Write(self.live, chunk, finalizes)
            if not finalizes:
                return None
            self._advance(chunk)
            self._leave_live()
        return None

    def written(self, write: Write, ref: MessageRef) -> None:
        """The platform accepted `write` (into message `ref`): the chat now shows it."""
        self.live, self._shown, self._shown_body = ref, write.chunk.text, len(write.chunk.body)
        if write.finalizes:
            self._advance(write.chunk)
            self._leave_live()

    def _next_chunk(self, limit: int) -> Chunk:
        return next_chunk(
            self._tail,
            limit,
            measure=self._limits.measure,
            open_fence=self._tail_fence,
            line_start=self._tail_line_start,
        )

    def _cut_at_stop(self, note: str) -> None:
        """The tail becomes what fits in one message beside the note, then the note."""
        room = self._limits.max_length - self._limits.measure(NOTE_SEPARATOR + note)
        kept = self._next_chunk(max(room, 1)).body
        if len(kept) < self._shown_body:  # never take back what the chat already shows
            kept = self._tail[: self._shown_body]
        if not kept.strip():
            self._tail = note
        else:
            self._tail = kept.rstrip() + NOTE_SEPARATOR + note if note else kept

    def _advance(self, chunk: Chunk) -> None:
        """The tail moves past a chunk that is final in its message."""
        self._finished.append(chunk.body)
        self._tail = self._tail[len(chunk.body) :]
        self._tail_fence = chunk.fence_at_end
        self._tail_line_start = chunk.body.endswith("\n")

    def _leave_live(self) -> None:
        """The live message is final: the tail goes on in a new one."""
        self.live, self._shown, self._shown_body = None, "", 0
