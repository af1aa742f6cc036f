"""The deadlines of one endpoint request: connect, first token, idle gap and total.

Knows asyncio and the error tree only; nothing of HTTP or the wire format.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from bot.core.errors import EndpointTimeout


@dataclass(frozen=True, slots=True)
class StreamTimeouts:
    """How long one request may take, phase by phase.

    `first_token_seconds` runs from the request's start to the first content or reasoning
    (keep-alive comments do not count: a local model may think for a minute before it speaks),
    and again from the moment reasoning passes the request's cap to the first answer token;
    `idle_seconds` is the longest silence after that; `total_seconds` bounds the whole reply.
    """

    connect_seconds: float = 10.0
    first_token_seconds: float = 120.0
    idle_seconds: float = 60.0
    total_seconds: float = 600.0


class Watchdog:
    """Enforces the first-token, idle and total deadlines of one stream with a single timer.

    A timer per chunk (asyncio.timeout) costs more than parsing the chunk, so the one timer
    fires at the earliest deadline and re-arms itself when the stream moved meanwhile. It
    cancels the task only while the task waits on the network, never while the consumer holds
    a delta (the cancellation would land in the consumer's code): a deadline that passes then
    is raised when the consumer asks for the next delta. Time spent by the consumer is not
    counted as the endpoint's silence.

    Reasoning is progress only up to `max_reasoning_chars`: past it the wait for a first
    token starts again, and only an answer ends it (phase "answer"), so a model that thinks
    for ever is stopped by the first-token deadline rather than fed by its own thoughts.
    """

    def __init__(
        self,
        timeouts: StreamTimeouts,
        task: asyncio.Task[object],
        *,
        max_reasoning_chars: int | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self.clock = loop.time
        self._timeouts = timeouts
        self._task = task
        self._start = self.last_activity = loop.time()
        self._waiting_since, self._waiting_for = self._start, "first_token"
        self._reasoning_room = sys.maxsize if max_reasoning_chars is None else max_reasoning_chars
        self._on_idle_deadline = False  # until a token counts: the first-token wait applies
        self.answering = False
        self.at_yield = False
        self.expired: str | None = None
        self._we_cancelled = False
        self._cancelling = task.cancelling()  # as asyncio.timeout: counted before any cancel
        self._handle = loop.call_at(self._deadline(self._start)[0], self._check)

    def _deadline(self, now: float) -> tuple[float, str]:
        timeouts = self._timeouts
        if not self._on_idle_deadline:
            when, phase = self._waiting_since + timeouts.first_token_seconds, self._waiting_for
        else:
            since = now if self.at_yield else self.last_activity
            when, phase = since + timeouts.idle_seconds, "idle"
        total = self._start + timeouts.total_seconds
        return (when, phase) if when < total else (total, "total")

    def _check(self) -> None:
        now = self.clock()
        when, phase = self._deadline(now)
        if when > now:
            self._handle = asyncio.get_running_loop().call_at(when, self._check)
            return
        self.expired = phase
        if not self.at_yield:
            self._we_cancelled = True
            self._task.cancel()

    def token_arrived(self) -> None:
        """The first token: from now on the (usually shorter) idle deadline applies."""
        self._on_idle_deadline = True
        self._rearm()

    def progress(self, content: str, reasoning: str) -> None:
        """A delta before the answer began. Content begins it, and from then on reasoning
        no longer matters; reasoning is progress within the cap, and past it a new wait."""
        if content:
            self.answering = True
            if not self._on_idle_deadline:
                self.token_arrived()
        elif reasoning:
            self._reasoned(len(reasoning))

    def _reasoned(self, chars: int) -> None:
        room = self._reasoning_room = self._reasoning_room - chars
        if room >= 0:
            if not self._on_idle_deadline:
                self.token_arrived()
        elif room + chars >= 0:  # this piece crossed the cap
            self._on_idle_deadline = False  # past the cap: an answer is awaited like a first token
            self._waiting_since, self._waiting_for = self.clock(), "answer"
            self._rearm()

    def _rearm(self) -> None:
        self._handle.cancel()
        self._handle = asyncio.get_running_loop().call_at(
            self._deadline(self.clock())[0], self._check
        )

    def resume(self) -> None:
        """The consumer asks for more: raise a deadline that passed while it held a delta."""
        self.at_yield = False
        if self.expired is not None:
            raise self.error()
        self.last_activity = self.clock()

    def owns_cancellation(self) -> bool:
        """Whether the cancellation in flight is our deadline's alone (as in asyncio.timeout)."""
        return self._we_cancelled and self._task.uncancel() <= self._cancelling

    def error(self) -> EndpointTimeout:
        phase = self.expired or "total"
        message, hint = _TIMEOUT_WORDS[phase]
        seconds = getattr(self._timeouts, f"{_LIMIT_OF.get(phase, phase)}_seconds")
        return EndpointTimeout(message.format(seconds=seconds), phase=phase, hint=hint)

    def stop(self) -> None:
        self._handle.cancel()


_TIMEOUT_WORDS = {
    "first_token": (
        "the model did not start answering within {seconds:g} s",
        "the model may be loading or busy; try again in a moment",
    ),
    "answer": (
        "the model kept reasoning past the limit and did not start answering within {seconds:g} s",
        "try again, or pick a model or setting that reasons less",
    ),
    "idle": ("the endpoint went silent for {seconds:g} s mid-reply", "try again"),
    "total": (
        "the reply took longer than {seconds:g} s",
        "ask for a shorter reply, or raise the time limit",
    ),
}
_LIMIT_OF = {"answer": "first_token"}
"""The StreamTimeouts field that bounds a phase, where it is not named after the phase."""
