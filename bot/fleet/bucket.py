"""The bot-wide write bucket every process of one bot shares, kept in Redis by a Lua script.

The same two rules as the in-process `TokenBucket` (bot/reply/pacing.py), so a process
that falls back to its own bucket paces alike: at most `capacity` writes in any sliding
window, spread out by a burst allowance refilled one write per `interval`. The script
takes a write or says how long to wait; it never waits, and it reads Redis's clock, the
one clock every process agrees on.

Keys, per platform and bot (the braces keep both in one Redis Cluster slot):
  parlor:budget:{<platform>:<bot>}:log   a list of the last `capacity` writes, newest
                                          first, in microseconds of Redis time
  parlor:budget:{<platform>:<bot>}:next  when the burst allowance is back to one write
Both expire a few windows after the last write.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

KEY_PREFIX = "parlor:budget"
ROUNDING_MICROSECONDS = 1
"""A wait is at least this long past a boundary, as `_ROUNDING_SECONDS` in pacing.py."""

TAKE_OR_WAIT = """
local capacity = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local now
if ARGV[5] ~= '' then
  now = tonumber(ARGV[5])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local wait = 0
local next_free = tonumber(redis.call('GET', KEYS[2]) or '')
if next_free then
  wait = next_free - (burst - 1) * interval - now
end
if redis.call('LLEN', KEYS[1]) >= capacity then
  local oldest = tonumber(redis.call('LINDEX', KEYS[1], capacity - 1))
  local strict = oldest + window - now
  if strict >= 0 then
    wait = math.max(wait, strict + 1)
  end
end
if wait > 0 then
  return math.ceil(wait)
end
local ttl = math.ceil(3 * window / 1000) + 1000
redis.call('LPUSH', KEYS[1], string.format('%d', now))
redis.call('LTRIM', KEYS[1], 0, capacity - 1)
redis.call('PEXPIRE', KEYS[1], ttl)
local after = now
if next_free and next_free > now then
  after = next_free
end
redis.call('SET', KEYS[2], string.format('%d', after + interval), 'PX', ttl)
return 0
"""
"""KEYS: the log and next keys. ARGV: capacity, interval and window in microseconds, burst,
and now in microseconds or '' for Redis's TIME. Returns 0 when the write was taken, else
the microseconds to wait (nothing taken). Times are written with %d: Lua's own number
format keeps 14 digits, too few for microseconds since 1970."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A bot-wide cap as the script reads it: `capacity` writes in any `window`, one more
    per `interval` once a burst of `burst` is spent (microseconds)."""

    capacity: int
    interval: int
    window: int
    burst: int

    @classmethod
    def per_second(cls, writes_per_second: float) -> Rate:
        """As pacing.py's bot-wide bucket: a window of one second, the whole of it a burst.
        Rounded up, so the shared cap is never looser than the platform's."""
        if writes_per_second <= 0:
            raise ValueError("a bot-wide write rate must be positive")
        capacity = max(1, int(writes_per_second))
        interval = math.ceil(1_000_000 / writes_per_second)
        window = math.ceil(capacity * 1_000_000 / writes_per_second)
        return cls(capacity, interval, window, capacity)


def budget_keys(platform: str, bot: str) -> list[str]:
    """The bucket's two keys for one platform's bot (see the module's docstring)."""
    tag = f"{KEY_PREFIX}:{{{platform}:{bot}}}"
    return [f"{tag}:log", f"{tag}:next"]


class SharedBucket:
    """One platform's bot-wide bucket in Redis. `take` runs the script (EVALSHA, loading
    it again when Redis has forgotten it, as after a restart); Redis's errors are raised."""

    def __init__(self, redis: Redis, *, platform: str, bot: str, rate: Rate) -> None:
        self._script = redis.register_script(TAKE_OR_WAIT)
        self._keys = budget_keys(platform, bot)
        self._rate = rate

    async def take(self, *, at_microseconds: int | None = None) -> float:
        """0.0 when a write was taken; else the seconds to wait, nothing taken.
        `at_microseconds` replaces Redis's clock (tests of the arithmetic)."""
        rate = self._rate
        args = [rate.capacity, rate.interval, rate.window, rate.burst]
        now = "" if at_microseconds is None else str(at_microseconds)
        waited = await self._script(keys=self._keys, args=[*args, now])
        return int(waited) / 1_000_000
