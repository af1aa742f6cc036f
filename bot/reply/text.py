"""Pure text helpers: splitting a reply at a platform's length limit, aware of code fences.

Knows nothing of platforms, time or I/O; the length measure is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.domain import count_chars

FENCE = "```"
FENCE_CLOSE = "\n```"
BARE_REOPEN = "```\n"
MIN_FENCE_AWARE_LIMIT = 16
"""Below this limit the fence markers would crowd out the text: fences split like plain text."""

_PARA, _LINE, _SENTENCE, _SPACE = range(4)
_BREAKS = re.compile(r"[\n \t]")

Measure = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One message's worth of a text: `body` is a slice of the original, the rest is markup.

    `reopen` (the open fence's first line and a newline) and `close` ("\\n```") are the
    fence markers added around the body; `fence_at_end` is the first line of the fence
    still open after the body, which the next chunk reopens.
    """

    body: str
    reopen: str = ""
    close: str = ""
    fence_at_end: str | None = None

    @property
    def text(self) -> str:
        return self.reopen + self.body + self.close


def split_for_limit(text: str, limit: int, *, measure: Measure = len) -> list[str]:
    """`text` cut into messages that each measure at most `limit`.

    Cuts prefer, in order, a blank line, a line break, a sentence end, a space, and
    only then a hard cut, taking the best kind that keeps the chunk at least half
    full. Whitespace at a cut stays with the earlier chunk. A chunk that would end
    inside a code fence is closed with "\\n```" and the next one reopens it with the
    fence's first line (language included). Joining the chunks without those markers
    gives `text` back exactly. `measure` must be additive and count each character as
    at least 1 (`len`, `count_utf16_units`). Raises ValueError if one character does
    not fit in `limit`.
    """
    return [chunk.text for chunk in plan_chunks(text, limit, measure=measure)]


def plan_chunks(
    text: str, limit: int, *, measure: Measure = len, open_fence: str | None = None
) -> list[Chunk]:
    """The chunks of `split_for_limit`, with their markers kept apart from their bodies.

    `open_fence` is the first line of a fence already open where `text` begins.
    """
    chunks: list[Chunk] = []
    cutter = _Cutter(text, limit, measure)
    pos = 0
    while pos < len(text):
        chunk = cutter.cut(pos, open_fence)
        chunks.append(chunk)
        pos += len(chunk.body)
        open_fence = chunk.fence_at_end
    return chunks


def next_chunk(
    text: str,
    limit: int,
    *,
    measure: Measure = len,
    open_fence: str | None = None,
    line_start: bool = True,
) -> Chunk:
    """The first chunk of `text` only; its body is all of `text` when everything fits.

    Costs O(limit), not O(len(text)): a streaming reply re-cuts only its unfinished
    tail. `line_start` is false when `text` continues a line cut at a space.
    """
    if not text:
        return Chunk(body="", fence_at_end=open_fence)
    return _Cutter(text, limit, measure, line_start=line_start).cut(0, open_fence)


def open_fence_at_end(text: str, *, open_fence: str | None = None) -> str | None:
    """The first line of the code fence left open at the end of `text`, or None.

    A line starting with ``` toggles a fence; `open_fence` is the state where `text` begins.
    """
    start = 0
    while True:
        newline = text.find("\n", start)
        if text.startswith(FENCE, start):
            line = text[start:] if newline == -1 else text[start:newline]
            open_fence = line if open_fence is None else None
        if newline == -1:
            return open_fence
        start = newline + 1


class _Cutter:
    """Finds one chunk: scans only the window that fits, at breaks and line starts."""

    def __init__(self, text: str, limit: int, measure: Measure, *, line_start: bool = True) -> None:
        self.text = text
        self.limit = limit
        self.measure = measure
        self.unit = measure is len or measure is count_chars
        self.fences = limit >= MIN_FENCE_AWARE_LIMIT
        self.starts_line = line_start

    def cut(self, pos: int, open_fence: str | None) -> Chunk:
        text, limit = self.text, self.limit
        open_fence = open_fence if self.fences else None
        reopen = self._reopen(open_fence) if open_fence is not None else ""
        budget = limit - self.measure(reopen)
        rest = len(text) - pos
        if rest <= budget and self.measure(text[pos:]) <= budget:
            end_fence = self._fence_after(pos, len(text), open_fence)
            return Chunk(body=text[pos:], reopen=reopen, fence_at_end=end_fence)
        window = self._fit(pos, budget)
        if window == pos:
            raise ValueError(f"a limit of {limit} cannot hold one more character")
        window_open = self._fit(pos, budget - self.measure(FENCE_CLOSE))
        half = -(-limit // 2) - self.measure(reopen)
        full_enough = pos if half <= 0 else self._fit(pos, half - 1) + 1
        scan = _Scan(self, pos, open_fence, window, window_open)
        end = scan.choose(full_enough)
        fence = scan.state_at(end)
        return Chunk(
            body=text[pos:end],
            reopen=reopen,
            close=FENCE_CLOSE if fence is not None else "",
            fence_at_end=fence,
        )

    def _reopen(self, line: str) -> str:
        """The fence's own first line, or a bare ``` when that line would eat the chunk."""
        full = line + "\n"
        if self.measure(full) + self.measure(FENCE_CLOSE) <= self.limit // 2:
            return full
        return BARE_REOPEN

    def is_line_start(self, index: int) -> bool:
        return self.text[index - 1] == "\n" if index > 0 else self.starts_line

    def fence_line_at(self, index: int) -> bool:
        return self.fences and self.is_line_start(index) and self.text.startswith(FENCE, index)

    def _fence_after(self, pos: int, end: int, open_fence: str | None) -> str | None:
        if not self.fences:
            return None
        first = self.text[pos:end]
        if not self.is_line_start(pos) and first.startswith(FENCE):
            return open_fence  # cannot happen for clean cuts; keep the state as it was
        return open_fence_at_end(first, open_fence=open_fence)

    def _fit(self, pos: int, budget: int) -> int:
        """The largest end with measure(text[pos:end]) <= budget (each character costs >= 1)."""
        high = min(len(self.text), pos + max(budget, 0))
        if self.unit or high == pos:
            return high
        over = self.measure(self.text[pos:high]) - budget
        if over <= 0:
            return high
        low = max(pos, high - over)  # dropping `over` characters always fits
        while high - low > 1:
            mid = (low + high) // 2
            if self.measure(self.text[pos:mid]) <= budget:
                low = mid
            else:
                high = mid
        return low


class _Scan:
    """One pass over a window: the furthest clean cut of each kind, and fence toggles."""

    def __init__(
        self, cutter: _Cutter, pos: int, open_fence: str | None, window: int, window_open: int
    ) -> None:
        self.cutter = cutter
        self.pos = pos
        self.window = window
        self.window_open = window_open
        self.best: list[int | None] = [None, None, None, None]
        # (line start, fence open after it); the first entry is the state at `pos`.
        self.toggles: list[tuple[int, str | None]] = [(pos, open_fence)]
        self.fence_lines: list[tuple[int, int]] = []  # (start, end]: no cut inside a fence line
        self._run()

    def _run(self) -> None:
        text, pos = self.cutter.text, self.pos
        if self.cutter.fence_line_at(pos):
            self._toggle(pos)
        for match in _BREAKS.finditer(text, pos, self.window):
            cut = match.end()
            char = text[cut - 1]
            in_fence_line = bool(self.fence_lines) and cut <= self.fence_lines[-1][1]
            fence = self.toggles[-1][1]
            if not in_fence_line and self._clean(cut) and cut <= self._limit_for(fence):
                self.best[self._kind(cut, char)] = cut
            if char == "\n" and cut < self.window and self.cutter.fence_line_at(cut):
                self._toggle(cut)

    def _kind(self, cut: int, char: str) -> int:
        before = self.cutter.text[cut - 2] if cut >= 2 else ""
        if char == "\n":
            return _PARA if before == "\n" else _LINE
        return _SENTENCE if char == " " and before in (".", "!", "?") else _SPACE

    def _toggle(self, start: int) -> None:
        text, limit = self.cutter.text, self.cutter.limit
        newline = text.find("\n", start, start + limit + 1)
        line_end = newline if newline != -1 else min(len(text), start + limit + 1)
        self.fence_lines.append((start, line_end))
        opening = self.toggles[-1][1] is None
        self.toggles.append((start, text[start:line_end] if opening else None))

    def _limit_for(self, fence: str | None) -> int:
        return self.window if fence is None else self.window_open

    def _clean(self, cut: int) -> bool:
        """False for a cut before a mid-line ```, which the next chunk would read as a fence."""
        text = self.cutter.text
        return not (self.cutter.fences and text[cut - 1] != "\n" and text.startswith(FENCE, cut))

    def _last_toggle(self, cut: int) -> int:
        """Index in `toggles` of the state a cut at `cut` sees: lines that start before it."""
        for index in range(len(self.toggles) - 1, 0, -1):
            if self.toggles[index][0] < cut:
                return index
        return 0

    def state_at(self, cut: int) -> str | None:
        return self.toggles[self._last_toggle(cut)][1]

    def _opened_inside(self, cut: int) -> int | None:
        """Where the fence open at `cut` began, if it began inside this chunk."""
        index = self._last_toggle(cut)
        start, fence = self.toggles[index]
        return start if index > 0 and fence is not None and start > self.pos else None

    def choose(self, full_enough: int) -> int:
        choice = next((cut for cut in self.best if cut is not None and cut >= full_enough), None)
        if choice is None:
            choice = self._hard_cut()
        opened = self._opened_inside(choice)
        if opened is not None and opened >= full_enough:
            choice = opened  # the block goes whole to the next message
        return choice

    def _hard_cut(self) -> int:
        """The furthest clean cut of any kind; an unclean one only if there is none."""
        cut = self.window
        while cut > self.pos:
            fence_line = next((s for s, e in self.fence_lines if s < cut <= e), None)
            if fence_line is not None:
                cut = fence_line
            elif self._clean(cut) and cut <= self._limit_for(self.state_at(cut)):
                return cut
            else:
                cut -= 1
        fallback = self.window_open if self.state_at(self.window) is not None else self.window
        return max(fallback, self.pos + 1)


_SURROGATE = re.compile("[\ud800-\udfff]")


class SurrogateJoiner:
    r"""Re-pairs UTF-16 surrogates that a server split across two chunks.

    A server that escapes non-ASCII (`"\ud83d"` then `"\ude00"`) gives each chunk
    half an emoji; each half alone cannot be encoded, stored or sent. A trailing
    high surrogate waits for the next piece; one that stays alone becomes U+FFFD.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        if not self._held and not _SURROGATE.search(piece):
            return piece  # the usual case costs one regex scan
        piece, self._held = self._held + piece, ""
        if piece and "\ud800" <= piece[-1] <= "\udbff":
            piece, self._held = piece[:-1], piece[-1]
        return _repair(piece)

    def finish(self) -> str:
        held, self._held = self._held, ""
        return _repair(held)


def _repair(text: str) -> str:
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
