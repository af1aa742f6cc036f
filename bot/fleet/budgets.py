"""Bot-wide write budgets shared through Redis (REDIS_URL), and the connection they use.

A budget asks the Lua bucket (bucket.py) for each write. When Redis stops answering it
says so once, paces this process with its own bucket, and asks Redis again a little
later: a lost Redis slows nothing and stops no reply. Knows no platform beyond its name.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import socket
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import AuthenticationError, AuthorizationError, RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.core.errors import ConfigError
from bot.fleet.bucket import Rate, SharedBucket
from bot.reply.pacing import TokenBucket

_log = logging.getLogger(__name__)

REDIS_TIMEOUT_SECONDS = 0.5
"""How long one call to Redis may take before this process paces on its own: a write
waits at most this long for a Redis that hangs, once per RETRY_SECONDS."""
RETRY_SECONDS = 5.0
"""How long a process paces on its own after Redis failed, before it asks Redis again."""


class RedisBudget:
    """One platform's bot-wide budget, shared by every process of the bot (SharedBudget).

    Redis errors never leave `claim`: the first starts a spell of local pacing (one
    warning), and the first answer after it ends the spell (one info line).
    """

    def __init__(self, bucket: SharedBucket, *, platform: str, writes_per_second: float) -> None:
        self._bucket = bucket
        self._platform = platform
        capacity = max(1, int(writes_per_second))
        self._local = TokenBucket(capacity, 1.0 / writes_per_second)
        self._alone_until: float | None = None  # set while Redis is unreachable

    async def claim(self, now: float) -> float:
        if self._alone_until is not None and now < self._alone_until:
            return self._claim_locally(now)
        try:
            wait = await self._bucket.take()
        except (RedisError, OSError) as exc:
            if self._alone_until is None:
                _log.warning(
                    "Redis is not answering (%s): this process paces its %s writes on its "
                    "own, up to the whole bot-wide limit, until Redis is back",
                    type(exc).__name__,
                    self._platform,
                )
            self._alone_until = now + RETRY_SECONDS
            return self._claim_locally(now)
        if self._alone_until is not None:
            _log.info("Redis answers again: %s writes share the bot-wide budget", self._platform)
            self._alone_until = None
        return wait

    def _claim_locally(self, now: float) -> float:
        delay = self._local.delay_until_available(now)
        if delay == 0:
            self._local.take(now)
        return delay


def connect(url: str, *, timeout_seconds: float = REDIS_TIMEOUT_SECONDS) -> Redis:
    """A client for REDIS_URL that fails fast rather than retrying: a write must not wait
    on a Redis that is gone (pacing falls back instead). Connects at its first command."""
    return Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


async def check_reachable(redis: Redis, url: str) -> None:
    """ConfigError with one line (host and port, never a password) unless Redis answers."""
    try:
        await redis.ping()
    except (RedisError, OSError) as exc:
        _log.debug("reaching Redis failed: %s: %s", type(exc).__name__, exc)
        raise ConfigError(
            f"Redis at {where(url)} can't be reached ({_reason(exc)}): start it, fix the host "
            "and port in REDIS_URL, or unset REDIS_URL to run one process alone."
        ) from None


def where(url: str) -> str:
    """host:port of a Redis URL (a unix socket's path), without its password."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def _reason(exc: BaseException) -> str:
    """A short reason from the OS error under the client's, whose message may quote the URL."""
    cause = exc.__cause__ or exc.__context__
    for kind, reason in _OS_REASONS:
        if isinstance(exc, kind) or isinstance(cause, kind):
            return reason
    if isinstance(exc, AuthenticationError | AuthorizationError):
        return "the password was refused"
    return type(exc).__name__


_OS_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "unknown host"),
    (TimeoutError, "timed out"),
    (RedisTimeoutError, "timed out"),
)


def bot_identity(platform: str, token: str) -> str:
    """Which bot a token is, for its budget's keys: two bots on one Redis never share a
    budget. Telegram's token starts with the bot's id, Discord's with it in base64; a token
    of another shape is named by a hash, never by itself."""
    head = token.split(":" if platform == "telegram" else ".", 1)[0]
    if platform == "discord":
        try:
            head = base64.b64decode(head + "=" * (-len(head) % 4), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            head = ""
    if head.isdigit() and head != token:
        return head
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def shared_budgets(
    redis: Redis, bots: dict[str, str], rates: dict[str, float]
) -> dict[str, RedisBudget]:
    """A shared budget for each platform in `bots` (platform → bot identity) with a rate."""
    return {
        platform: RedisBudget(
            SharedBucket(redis, platform=platform, bot=bot, rate=Rate.per_second(rates[platform])),
            platform=platform,
            writes_per_second=rates[platform],
        )
        for platform, bot in bots.items()
        if platform in rates
    }
