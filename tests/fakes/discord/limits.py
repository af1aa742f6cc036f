"""Discord's REST rate limits as the fake enforces them, with the headers Discord sends.

Fixed-window buckets per channel and per webhook plus a global per-second limit, on an
injected clock; knows nothing of aiohttp beyond the header names.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from tests.fakes.discord.wire import JsonDict

RATE_LIMITED_MESSAGE = "You are being rate limited."


@dataclass(frozen=True, slots=True)
class RateLimitEvent:
    """One 429: the route, its bucket key, which limit refused it and the retry_after sent."""

    route: str
    key: str
    scope: str  # "user" (a route bucket), "global" or "forced" (fail_next)
    retry_after: float
    at: float


@dataclass(slots=True)
class _Window:
    """A bucket: `used` requests since the window opened at `start`."""

    start: float
    used: int = 0


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the limiter says of one request: headers to send, and a 429 body if refused."""

    headers: dict[str, str]
    refused: JsonDict | None = None
    event: RateLimitEvent | None = None


class RateLimits:
    """Per-resource buckets (a window opens at its first request and lasts `*_window_seconds`)
    and a sliding one-second global limit; every attribute may be tuned by a test.

    A refused request is not counted. Interaction callbacks skip the global limit, as on
    Discord. Reset-After is on the injected clock; Reset (epoch seconds) on the wall clock,
    which discord.py reads only with `assume_unsync_clock=False`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.enabled = True
        self.message_writes = 5
        self.message_window_seconds = 5.0
        self.webhook_writes = 5
        self.webhook_window_seconds = 5.0
        self.global_requests_per_second = 50
        self._windows: dict[str, _Window] = {}
        self._global: deque[float] = deque()

    def reset(self) -> None:
        self._windows.clear()
        self._global.clear()

    def admit(self, route: str, bucket: str | None, *, global_limit: bool = True) -> Verdict:
        """Count the request (route like "POST /channels/{channel_id}/messages"), or refuse it.

        `bucket` is "messages:<channel>" or "webhook:<id>/<token>"; None means only global.
        """
        if not self.enabled:
            return Verdict({})
        now = self.clock()
        if global_limit and (wait := self._global_wait(now)) > 0:
            return self._refuse(route, "global", wait, now, {"X-RateLimit-Global": "true"})
        headers: dict[str, str] = {}
        if bucket is not None:
            limit, seconds = self._limit_of(bucket)
            window = self._windows.get(bucket)
            if window is None or now >= window.start + seconds:
                window = self._windows[bucket] = _Window(now)
            reset_after = window.start + seconds - now
            if window.used >= limit:
                headers = _bucket_headers(bucket, limit, 0, reset_after)
                return self._refuse(route, "user", reset_after, now, headers, key=bucket)
            window.used += 1
            headers = _bucket_headers(bucket, limit, limit - window.used, reset_after)
        if global_limit:
            self._global.append(now)
        return Verdict(headers)

    def _limit_of(self, bucket: str) -> tuple[int, float]:
        if bucket.startswith("webhook:"):
            return self.webhook_writes, self.webhook_window_seconds
        return self.message_writes, self.message_window_seconds

    def _global_wait(self, now: float) -> float:
        limit = self.global_requests_per_second
        if limit <= 0:
            return 0.0
        while self._global and self._global[0] <= now - 1.0:
            self._global.popleft()
        if len(self._global) < limit:
            return 0.0
        return self._global[len(self._global) - limit] + 1.0 - now

    def _refuse(
        self, route: str, scope: str, wait: float, now: float, headers: dict[str, str],
        *, key: str = "global",
    ) -> Verdict:  # fmt: skip
        retry_after = round(max(wait, 0.001), 3)
        event = RateLimitEvent(route, key, scope, retry_after, now)
        return Verdict(
            headers | rate_limited_headers(retry_after, scope),
            refused=rate_limited_body(retry_after, is_global=scope == "global"),
            event=event,
        )


def rate_limited_body(retry_after: float, *, is_global: bool = False) -> JsonDict:
    return {"message": RATE_LIMITED_MESSAGE, "retry_after": retry_after, "global": is_global}


def rate_limited_headers(retry_after: float, scope: str) -> dict[str, str]:
    """A 429's headers; without Via, discord.py takes a 429 for a Cloudflare ban and gives up."""
    return {
        "Retry-After": str(max(1, math.ceil(retry_after))),
        "X-RateLimit-Scope": scope,
        "Via": "1.1 google",
    }


def _bucket_headers(bucket: str, limit: int, remaining: int, reset_after: float) -> dict[str, str]:
    reset_after = max(reset_after, 0.0)
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
        "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        # One hash for every bucket of a kind, as Discord does: discord.py keys its own
        # buckets by hash plus the channel or webhook, so POST and PATCH share one.
        "X-RateLimit-Bucket": "fake" + bucket.split(":", maxsplit=1)[0],
    }
