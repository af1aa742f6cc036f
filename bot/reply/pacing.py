"""Write budgets: how often the bot may send or edit messages, per channel and bot-wide,
and the one paced, retried write that every write outside a stream's editor goes through.

Arithmetic on timestamps the caller passes in; knows no platform.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import TypeVar

from bot.core.clock import SystemClock
from bot.core.domain import ChannelKey, PlatformLimits
from bot.core.errors import DeliveryError
from bot.core.ports import NO_TELEMETRY, Clock, DeliveryObserver, SharedBudget

_log = logging.getLogger(__name__)
_T = TypeVar("_T")

CHANNEL_BURST_WRITES = 2
"""Writes a channel may make back to back after a quiet spell: placeholder, then first text."""
_ROUNDING_SECONDS = 1e-6
"""Margin past a platform's boundary, so float rounding never makes a write early."""
PACED_WRITE_ATTEMPTS = 5
"""Tries at one paced write before its DeliveryError is raised."""


class TokenBucket:
    """At most `capacity` writes in any `capacity * interval` seconds, evenly spread.

    A plain token bucket lets a full burst be followed by refilled tokens inside the
    same window, which a strict platform counts as over its limit. So a write needs a
    free slot in a sliding window (the write `capacity` writes ago is a window old) and
    a token from a smaller burst allowance refilled one per `interval`, which spreads
    writes out evenly instead of spending the window in one burst and then going quiet.
    """

    def __init__(self, capacity: int, interval: float, *, burst: int | None = None) -> None:
        if capacity < 1 or interval <= 0:
            raise ValueError("a bucket needs capacity >= 1 and interval > 0")
        self.capacity = capacity
        self.interval = interval
        self.window = capacity * interval
        self._burst = max(1, min(burst if burst is not None else capacity, capacity))
        self._recent: deque[float] = deque(maxlen=capacity)
        self._next_free = float("-inf")  # when the burst allowance is back to one token
        self._paused_until = float("-inf")

    def delay_until_available(self, now: float) -> float:
        """Seconds until a write may go out; 0.0 means now.

        The platform's own rules (the sliding window, a retry_after) are kept with a
        margin of _ROUNDING_SECONDS; any positive wait is at least that long, so a
        caller that sleeps exactly this long always finds the slot open.
        """
        wait = self._next_free - (self._burst - 1) * self.interval - now
        strict = self._paused_until
        if len(self._recent) == self.capacity:
            strict = max(strict, self._recent[0] + self.window)
        if strict - now > -_ROUNDING_SECONDS / 2:
            wait = max(wait, strict - now + _ROUNDING_SECONDS)
        return max(wait, _ROUNDING_SECONDS) if wait > 0 else 0.0

    def take(self, now: float) -> None:
        """Record a write at `now`; callers check `delay_until_available` first."""
        self._recent.append(now)
        self._next_free = max(self._next_free, now) + self.interval

    def pause_until(self, until: float) -> None:
        """No write before `until` (a platform's retry_after); never shortens a pause."""
        self._paused_until = max(self._paused_until, until)


class ChannelBudget:
    """What one write in a channel must pass: the channel's bucket and the bot-wide one.

    A retry_after pauses only the channel: another chat's editor keeps going. `observer`
    hears of rate limits and retries under `platform`, so every writer that paces through
    a budget (streams, repliers, outboxes) is counted without being told of metrics.
    `fleet`, when set, is the bot-wide budget every process shares (REDIS_URL): only
    `claim` asks it, and the synchronous methods know only this process's buckets.
    """

    def __init__(
        self,
        channel: TokenBucket,
        shared: TokenBucket | None = None,
        *,
        platform: str = "",
        observer: DeliveryObserver = NO_TELEMETRY,
        fleet: SharedBudget | None = None,
    ) -> None:
        self.channel = channel
        self.shared = shared
        self.platform = platform
        self.observer = observer
        self.fleet = fleet

    def delay_until_available(self, now: float) -> float:
        delay = self.channel.delay_until_available(now)
        if self.shared is not None:
            delay = max(delay, self.shared.delay_until_available(now))
        return delay

    def take(self, now: float) -> None:
        self.channel.take(now)
        if self.shared is not None:
            self.shared.take(now)

    def pause_until(self, until: float) -> None:
        self.channel.pause_until(until)

    def refused(self, exc: DeliveryError, *, retrying: bool) -> None:
        """Tell the observer a write failed: a 429 when it carried retry_after, and a retry
        when the caller goes again."""
        if exc.retry_after is not None:
            self.observer.rate_limited(self.platform)
        if retrying:
            self.observer.write_retried(self.platform)

    async def claim(self, clock: Clock) -> float:
        """Take a write's slot if one is free now and return 0.0; else the seconds to wait
        before asking again, nothing taken.

        The channel is asked before the shared budget, so a channel that must wait anyway
        spends none of the bot's writes. While the shared budget is asked, another writer
        of this channel may take its slot: the shared write is then left unused, which
        errs towards fewer writes, never more.
        """
        now = clock.now()
        delay = self.delay_until_available(now)
        if delay > 0:
            return delay
        if self.fleet is not None:
            delay = await self.fleet.claim(now)
            if delay > 0:
                return delay
            now = clock.now()
            delay = self.delay_until_available(now)
            if delay > 0:
                return delay
        self.take(now)
        return 0.0

    async def spend(self, clock: Clock) -> None:
        """Wait until a write may go out, and count it: for writes outside a stream."""
        while (delay := await self.claim(clock)) > 0:
            await clock.sleep(delay)


async def write_paced(
    write: Callable[[], Awaitable[_T]],
    *,
    budget: ChannelBudget,
    clock: Clock,
    retry_failures: bool,
    attempts: int = PACED_WRITE_ATTEMPTS,
) -> _T:
    """`write()`'s result, each try spending a slot of the channel's budget first.

    A DeliveryError with retry_after pauses the channel (not the bot) for that long, and the
    write goes again; one without goes again at the next slot when `retry_failures` (a write
    that carries a reply's final state: a hiccup must not leave Stop behind), else it is
    raised at once (a refusal that trying again would only repeat). After `attempts` tries
    the last DeliveryError is raised.
    """
    tries = 0
    while True:
        await budget.spend(clock)
        try:
            return await write()
        except DeliveryError as exc:
            tries += 1
            giving_up = tries >= attempts or (exc.retry_after is None and not retry_failures)
            budget.refused(exc, retrying=not giving_up)
            if giving_up:
                raise
            if exc.retry_after is not None:
                # A platform asking us to wait is pacing, not a fault: no warning each time.
                budget.pause_until(clock.now() + exc.retry_after)
                _log.debug("a write was rate-limited; waiting %.1fs", exc.retry_after)
            else:
                _log.warning("a write failed; trying it again (%s)", exc)


class Pacing:
    """Hands out one budget per channel, so turns and streams in a channel share it.

    The first limits seen for a channel fix its bucket; budgets live as long as this
    object (one per process), which is a few hundred bytes per channel ever seen.
    """

    def __init__(
        self,
        global_writes_per_second: float | None = None,
        *,
        clock: Clock | None = None,
        burst: int = CHANNEL_BURST_WRITES,
        platform_writes_per_second: Mapping[str, float] | None = None,
        budget_scopes: Mapping[str, Callable[[ChannelKey], ChannelKey]] | None = None,
        observer: DeliveryObserver = NO_TELEMETRY,
        shared_budgets: Mapping[str, SharedBudget] | None = None,
    ) -> None:
        """`platform_writes_per_second` caps each named platform's writes bot-wide (Telegram
        about 30/s, Discord 50/s); `global_writes_per_second` caps the others together.
        `budget_scopes` maps a platform's channels to what its limit counts: Telegram's
        forum topics share their group's 20 writes a minute. `observer` hears every
        budget's rate limits and retries (the operator's metrics). `shared_budgets` replace
        the named platforms' bot-wide caps with budgets every process of the bot shares."""
        self._observer = observer
        self._scopes = dict(budget_scopes or {})
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._burst = burst
        self._budgets: dict[ChannelKey, ChannelBudget] = {}
        self._shared = _shared_bucket(global_writes_per_second)
        self._platforms = {
            name: _shared_bucket(rate) for name, rate in (platform_writes_per_second or {}).items()
        }
        self._fleet = dict(shared_budgets or {})

    def budget_for(self, channel: ChannelKey, limits: PlatformLimits) -> ChannelBudget:
        scope = self._scopes.get(channel.platform)
        if scope is not None:
            channel = scope(channel)
        budget = self._budgets.get(channel)
        if budget is None:
            bucket = TokenBucket(
                limits.writes_per_window,
                limits.window_seconds / limits.writes_per_window,
                burst=self._burst,
            )
            fleet = self._fleet.get(channel.platform)
            shared = (
                None if fleet is not None else self._platforms.get(channel.platform, self._shared)
            )
            budget = self._budgets[channel] = ChannelBudget(
                bucket, shared, platform=channel.platform, observer=self._observer, fleet=fleet
            )
        return budget


def _shared_bucket(writes_per_second: float | None) -> TokenBucket | None:
    if writes_per_second is None:
        return None
    if writes_per_second <= 0:
        raise ValueError("a bot-wide write rate must be positive")
    return TokenBucket(max(1, int(writes_per_second)), 1.0 / writes_per_second)
