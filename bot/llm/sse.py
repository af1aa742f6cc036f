"""Server-Sent Events framing: raw bytes in, (event type, data) pairs out.

Knows nothing of JSON, OpenAI or HTTP; lines end only at CR, LF or CRLF, never at U+2028.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bot.core.errors import EndpointStreamError

MAX_LINE_BYTES = 16 * 1024 * 1024
"""A line longer than this is refused: a server that never ends a line must not eat our memory."""
MAX_EVENT_CHARS = MAX_LINE_BYTES
"""The most one event's data lines may hold together: a server that sends data lines and never
the blank line that ends the event must not eat our memory either. Each line is charged
_LINE_CHARGE_CHARS more than its characters, since a held line costs memory however short it is."""
_LINE_CHARGE_CHARS = 64  # a str header and a list slot, rounded up

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"


class SSEEvent(NamedTuple):
    """One dispatched event. A tuple rather than a dataclass: it is built once per token."""

    event: str
    data: str


_new_event = tuple.__new__  # skips NamedTuple's Python-level __new__ on the hot path


class SSEDecoder:
    """An incremental decoder fed byte chunks exactly as they came off the socket.

    Chunks may split a line, an event, a CRLF pair or a multi-byte character anywhere:
    the decoder keeps the unterminated tail and decodes only whole lines (CR and LF bytes
    never occur inside a UTF-8 sequence, so a whole line is always whole characters).
    Events follow the WHATWG rules: comment lines (starting with ":") are dropped, at most
    one space after the colon is stripped, data lines are joined with "\\n", an event is
    dispatched at a blank line even when its data is empty, `id`, `retry` and unknown fields
    are ignored. Whatever is unterminated when the stream ends is discarded. A line over
    MAX_LINE_BYTES, or an event whose data lines pass MAX_EVENT_CHARS, raises
    EndpointStreamError: memory stays bounded whatever the server sends.
    """

    __slots__ = ("_clean", "_data", "_event", "_size", "_skip_lf", "_started", "_tail")

    def __init__(self) -> None:
        self._tail = bytearray()  # bytes after the last line break seen
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to it
        self._started = False  # a leading byte-order mark is dropped once
        self._data: list[str] = []
        self._size = 0  # what the data lines of the open event cost, in MAX_EVENT_CHARS' units
        self._event = ""
        self._clean = False  # between events, nothing pending: the fast path may run

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Take the next chunk; return the events it completed, in order."""
        if (  # Fast path: the chunk is exactly one `data:` line and its blank line.
            self._clean
            and chunk.find(b"\n") == len(chunk) - 2
            and chunk[-1:] == b"\n"
            and chunk[:5] == b"data:"
            and b"\r" not in chunk
        ):
            data = chunk[6:-2] if chunk[5:6] == b" " else chunk[5:-2]
            return [_new_event(SSEEvent, ("message", data.decode("utf-8", "replace")))]
        events = self._feed(chunk)
        self._clean = self._started and not (
            self._tail or self._data or self._event or self._skip_lf
        )
        return events

    def _feed(self, chunk: bytes) -> list[SSEEvent]:
        if self._skip_lf and chunk:
            self._skip_lf = False
            if chunk[0] == 0x0A:
                chunk = chunk[1:]
        end = max(chunk.rfind(b"\n"), chunk.rfind(b"\r")) + 1
        if not end:
            self._keep(chunk)
            return []
        if self._tail:
            region: bytes | bytearray = self._tail + chunk[:end]
            self._tail = bytearray()
        else:
            region = chunk[:end]
        if end < len(chunk):
            self._keep(chunk[end:])
        else:
            self._skip_lf = chunk[end - 1] == 0x0D
        text = region.decode("utf-8", "replace")
        if not self._started:
            self._started = True
            if text.startswith(_BOM):
                text = text[1:]
        # The region ends with a line break, so the last split item is always "".
        lines = text.split("\n") if "\r" not in text else _LINE_BREAK.split(text)
        lines.pop()
        return self._lines(lines)

    def _keep(self, rest: bytes) -> None:
        self._tail += rest
        if len(self._tail) > MAX_LINE_BYTES:
            self._tail = bytearray()
            raise EndpointStreamError(
                "the endpoint sent an event line longer than we accept",
                hint="check that the base URL points at an OpenAI-compatible API",
            )

    def _lines(self, lines: list[str]) -> list[SSEEvent]:
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(SSEEvent(self._event or "message", "\n".join(data)))
                    data.clear()
                    self._size = 0
                self._event = ""
                continue
            if line.startswith("data:"):
                value = line[5:]
            elif line[0] == ":":
                continue
            else:
                self._field(line)
                continue
            self._hold(value[1:] if value[:1] == " " else value)
        return events

    def _hold(self, value: str) -> None:
        """One more data line of the open event, within MAX_EVENT_CHARS."""
        self._size += len(value) + _LINE_CHARGE_CHARS
        if self._size > MAX_EVENT_CHARS:
            self._data.clear()
            self._size = 0
            megabytes = max(1, round(MAX_EVENT_CHARS / 2**20))
            raise EndpointStreamError(
                f"the endpoint sent a stream event that never ended (over {megabytes} MB of data)",
                hint="check that the base URL points at an OpenAI-compatible API",
            )
        self._data.append(value)

    def _field(self, line: str) -> None:
        """A line other than `data: …` or a comment: only `event` counts, `id`/`retry` do not."""
        name, _, value = line.partition(":")
        if name == "event":
            self._event = value[1:] if value[:1] == " " else value
        elif name == "data":  # "data" with no colon at all: an empty data line
            self._hold("")
