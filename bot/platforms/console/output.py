"""What the console bot writes: JSON lines for scripts, a live transcript on a terminal, and
only finished lines when the output is a pipe or a file (no carriage returns or escapes).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import AsyncIterator, Iterator
from typing import TextIO

from bot.core.domain import MessageRef, PlatformLimits

CONSOLE_LIMITS = PlatformLimits(max_length=4000, writes_per_window=10, window_seconds=1.0)
BOT_NAME = "bot"
"""Who a reply is from when no character speaks in the chat."""
_CLEAR_LINE = "\r\033[K"  # back to the line's start, then erase it: a terminal's redraw


class ConsoleOutput:
    """Writes what the bot says, as JSON lines or as a transcript.

    `live` (a terminal, unless told) shows replies growing in place; otherwise a reply is
    written once, finished, so a log or a pipe reads like the chat did.
    """

    def __init__(self, stream: TextIO, *, jsonl: bool, live: bool | None = None) -> None:
        self._stream = stream
        self.jsonl = jsonl
        self.live = not jsonl and (_is_terminal(stream) if live is None else live)
        self._lock = threading.Lock()

    def event(self, **fields: object) -> None:
        self.write(json.dumps(fields, ensure_ascii=False) + "\n")

    def write(self, text: str) -> None:
        with self._lock:
            self._stream.write(text)
            self._stream.flush()


class ConsoleReplier:
    """A Replier on stdout, for one turn. Refs come from the session's counter, so they never
    repeat within a session.

    `speaker` is the character's name when one speaks in the chat: it leads each reply
    line instead of "bot", and JSON lines carry it as `speaker`. `settle` writes the final
    text where the output is not live.
    """

    def __init__(
        self,
        output: ConsoleOutput,
        refs: Iterator[int],
        *,
        on_send: asyncio.Event,
        speaker: str | None = None,
    ) -> None:
        self._output = output
        self._shown: dict[MessageRef, str] = {}
        self._refs = refs
        self._on_send = on_send
        self._speaker = speaker
        self._prefix = f"{speaker or BOT_NAME}> "

    @property
    def limits(self) -> PlatformLimits:
        return CONSOLE_LIMITS

    async def send(self, text: str) -> MessageRef:
        ref = MessageRef(str(next(self._refs)))
        self._on_send.set()
        self._shown[ref] = text
        if self._output.jsonl:
            self._event("send", ref, text)
        elif self._output.live:
            self._output.write(f"\n{self._prefix}{text}")
        return ref

    async def edit(self, ref: MessageRef, text: str) -> None:
        before = self._shown.get(ref, "")
        self._shown[ref] = text
        if self._output.jsonl:
            self._event("edit", ref, text)
        elif not self._output.live:
            return
        elif text.startswith(before):
            self._output.write(text[len(before) :])
        elif "\n" not in before:  # one line on screen: redraw it in place
            self._output.write(f"{_CLEAR_LINE}{self._prefix}{text}")
        else:
            self._output.write(f"\n{self._prefix}{text}")

    async def delete(self, ref: MessageRef) -> None:
        self._shown.pop(ref, None)
        if self._output.jsonl:
            self._output.event(type="delete", ref=ref)

    @contextlib.asynccontextmanager
    async def typing(self) -> AsyncIterator[None]:
        yield

    async def settle(self, *, finished: bool) -> list[int]:
        """The turn is over: the console has no buttons; where nothing was drawn live, each
        message the reply left is written, once."""
        if not (self._output.jsonl or self._output.live):
            for text in self._shown.values():
                self._output.write(f"\n{self._prefix}{text}")
        return []

    def _event(self, kind: str, ref: MessageRef, text: str) -> None:
        speaker = {"speaker": self._speaker} if self._speaker else {}
        self._output.event(type=kind, ref=ref, text=text, **speaker)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or minimal stream
        return False
