"""A Replier (ports.Replier) that records every call and judges it like a strict platform.

What a strict platform would refuse is recorded in `violations`, never raised.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from bot.core.domain import MessageRef, PlatformLimits
from bot.core.errors import DeliveryError
from bot.core.ports import Clock

DISCORD_LIKE = PlatformLimits(max_length=2000, writes_per_window=5, window_seconds=5.0)

CallKind = Literal["send", "edit", "delete"]


@dataclass(frozen=True, slots=True)
class Call:
    kind: CallKind
    ref: MessageRef | None
    text: str
    at: float
    ok: bool = True


class RecordingReplier:
    """Records calls as they arrive, with the clock's time; each answer takes `latency` seconds.

    Writes (sends and edits, failed ones included) over the budget of `limits` in any
    sliding window, over the length limit, blank, to an unknown message, or changing
    nothing land in `violations`, so a test can assert there were none. `fail_next`
    makes the next writes raise DeliveryError (with or without retry_after).
    """

    def __init__(
        self,
        clock: Clock,
        *,
        limits: PlatformLimits = DISCORD_LIKE,
        latency: float = 0.0,
        name: str = "m",
    ) -> None:
        self._clock = clock
        self._limits = limits
        self.latency = latency
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.typing_windows: list[tuple[float, float | None]] = []
        self._messages: dict[MessageRef, str] = {}
        self._write_times: deque[float] = deque(maxlen=limits.writes_per_window)
        self._failures: deque[DeliveryError] = deque()
        self._ids = (MessageRef(f"{name}{n}") for n in itertools.count(1))

    @property
    def limits(self) -> PlatformLimits:
        return self._limits

    @property
    def messages(self) -> dict[MessageRef, str]:
        """The current text of every message sent and not deleted, in the order sent."""
        return dict(self._messages)

    @property
    def texts(self) -> list[str]:
        return list(self._messages.values())

    @property
    def writes(self) -> list[Call]:
        return [call for call in self.calls if call.kind != "delete"]

    def fail_next(
        self, count: int = 1, *, retry_after: float | None = None, message: str = "refused"
    ) -> None:
        """Make the next `count` sends or edits raise DeliveryError (and change nothing)."""
        for _ in range(count):
            self._failures.append(DeliveryError(message, retry_after=retry_after))

    async def send(self, text: str) -> MessageRef:
        at = self._arrive("send", None, text)
        ref = next(self._ids)
        self._messages[ref] = text
        self.calls.append(Call("send", ref, text, at))
        await self._clock.sleep(self.latency)
        return ref

    async def edit(self, ref: MessageRef, text: str) -> None:
        at = self._arrive("edit", ref, text)
        if ref not in self._messages:
            self.violations.append(f"{at:.3f}: edit of unknown message {ref}")
        elif self._messages[ref] == text:
            self.violations.append(f"{at:.3f}: edit of {ref} changes nothing")
        self._messages[ref] = text
        self.calls.append(Call("edit", ref, text, at))
        await self._clock.sleep(self.latency)

    async def delete(self, ref: MessageRef) -> None:
        self._messages.pop(ref, None)
        self.calls.append(Call("delete", ref, "", self._clock.now()))
        await self._clock.sleep(self.latency)

    def typing(self) -> _Typing:
        return _Typing(self._clock, self.typing_windows)

    def _arrive(self, kind: CallKind, ref: MessageRef | None, text: str) -> float:
        """Judge a write as the platform receives it; raise an injected failure if queued."""
        at = self._clock.now()
        window, recent = self._limits.window_seconds, self._write_times
        if len(recent) == recent.maxlen and at - recent[0] < window:
            self.violations.append(f"{at:.3f}: {kind} is write {len(recent) + 1} within {window}s")
        self._write_times.append(at)
        if self._limits.measure(text) > self._limits.max_length:
            self.violations.append(f"{at:.3f}: {kind} of {self._limits.measure(text)} units")
        if not text.strip():
            self.violations.append(f"{at:.3f}: blank {kind}")
        if self._failures:
            self.calls.append(Call(kind, ref, text, at, ok=False))
            raise self._failures.popleft()
        return at


class _Typing:
    """Records (start, end) of a typing indicator; end is None while it is on."""

    def __init__(self, clock: Clock, windows: list[tuple[float, float | None]]) -> None:
        self._clock = clock
        self._windows = windows
        self._index = -1

    async def __aenter__(self) -> None:
        self._index = len(self._windows)
        self._windows.append((self._clock.now(), None))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._windows[self._index] = (self._windows[self._index][0], self._clock.now())
