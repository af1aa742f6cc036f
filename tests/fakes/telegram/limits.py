"""Telegram's flood control as the fake server enforces it: how often a bot may write where.

Counts accepted writes per chat and per bot on an injected clock; knows nothing of HTTP.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WRITE_METHODS = frozenset({"sendMessage", "editMessageText", "sendDocument", "sendPhoto"})
DRAFT_METHOD = "sendMessageDraft"


@dataclass(frozen=True, slots=True)
class RateLimitEvent:
    """One refused write: which limit (`scope`) said no, and the retry_after sent."""

    method: str
    chat_id: int
    scope: str  # "bot", "group", "private" or "draft"
    retry_after: int
    at: float


@dataclass(slots=True)
class _Bucket:
    """A token bucket: `burst` writes at once, then one per interval."""

    tokens: float
    at: float


class FloodLimits:
    """Telegram's published limits, each an attribute a test may tune (0 disables a limit).

    - a group or channel (chat_id < 0): `group_writes` in any sliding `group_window_seconds`;
    - a private chat: a token bucket of `private_burst` writes, one more per
      `private_interval_seconds`;
    - the whole bot: `bot_writes_per_second` in any sliding second;
    - sendMessageDraft, counted apart: one per `draft_interval_seconds` per chat.

    `slack_seconds` forgives network jitter: writes that a bot spaced exactly by a limit's
    interval can arrive a few milliseconds closer. A refused write is not counted, as the
    sender is expected to wait rather than hammer.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.enabled = True
        self.write_methods = WRITE_METHODS
        self.group_writes = 20
        self.group_window_seconds = 60.0
        self.private_interval_seconds = 1.0
        self.private_burst = 1
        self.bot_writes_per_second = 30
        self.draft_interval_seconds = 0.3
        self.slack_seconds = 0.05
        self._groups: dict[int, deque[float]] = {}
        self._privates: dict[int, _Bucket] = {}
        self._drafts: dict[int, _Bucket] = {}
        self._bot: deque[float] = deque()

    def reset(self) -> None:
        """Forget every write counted so far."""
        self._groups.clear()
        self._privates.clear()
        self._drafts.clear()
        self._bot.clear()

    def admit(self, method: str, chat_id: int) -> RateLimitEvent | None:
        """Count the write and return None, or return why it is refused (without counting it)."""
        if not self.enabled:
            return None
        now = self.clock()
        if method == DRAFT_METHOD:
            draft = self._drafts.setdefault(chat_id, _Bucket(1.0, now))
            waits = {"draft": self._bucket_wait(draft, now, self.draft_interval_seconds, 1)}
        elif method in self.write_methods:
            waits = {"bot": self._window_wait(self._bot, now, self.bot_writes_per_second, 1.0)}
            if chat_id < 0:
                log = self._groups.setdefault(chat_id, deque())
                waits["group"] = self._window_wait(
                    log, now, self.group_writes, self.group_window_seconds
                )
            else:
                bucket = self._privates.setdefault(chat_id, _Bucket(self.private_burst, now))
                waits["private"] = self._bucket_wait(
                    bucket, now, self.private_interval_seconds, self.private_burst
                )
        else:
            return None
        scope, wait = max(waits.items(), key=lambda item: item[1])
        if wait > 0:
            return RateLimitEvent(method, chat_id, scope, max(1, math.ceil(wait)), now)
        self._count(method, chat_id, now)
        return None

    def _count(self, method: str, chat_id: int, now: float) -> None:
        if method == DRAFT_METHOD:
            self._take(self._drafts[chat_id], now, self.draft_interval_seconds, 1)
            return
        self._bot.append(now)
        if chat_id < 0:
            self._groups[chat_id].append(now)
        else:
            bucket = self._privates[chat_id]
            self._take(bucket, now, self.private_interval_seconds, self.private_burst)

    def _window_wait(self, log: deque[float], now: float, limit: int, seconds: float) -> float:
        """Seconds until the sliding window has room; older entries are forgotten."""
        if limit <= 0 or seconds <= 0:
            return 0.0
        horizon = now - seconds + self.slack_seconds
        while log and log[0] <= horizon:
            log.popleft()
        if len(log) < limit:
            return 0.0
        return log[len(log) - limit] - horizon

    def _level(self, bucket: _Bucket, now: float, interval: float, burst: int) -> float:
        refill = (now - bucket.at + self.slack_seconds) / interval
        return min(float(max(burst, 1)), bucket.tokens + refill)

    def _bucket_wait(self, bucket: _Bucket, now: float, interval: float, burst: int) -> float:
        if interval <= 0:
            return 0.0
        return max(0.0, (1.0 - self._level(bucket, now, interval, burst)) * interval)

    def _take(self, bucket: _Bucket, now: float, interval: float, burst: int) -> None:
        if interval > 0:
            bucket.tokens = self._level(bucket, now, interval, burst) - 1.0
            bucket.at = now
