"""One-time confirmation codes: what a destructive command hands out before it acts.

A code is bound to the person who asked (platform and user id) and to what it will do,
works once, and expires. Codes are kept in the shared state (the database), so a button
shown by one process is confirmed by any other, and after a restart. Spent and expired
codes are remembered a while longer, so that a late press hears "used" or "expired", not
"unknown".
"""

from __future__ import annotations

import enum
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.core.domain import ChannelKey
from bot.core.shared_state import SharedState, owner_of

CONFIRM_SECONDS = 5 * 60
"""How long a confirmation button works."""
REMEMBER_SECONDS = 60 * 60
"""How long past its end a code is still recognised, to say why it no longer works."""
CODE_BYTES = 9
"""12 URL-safe characters: unguessable, and short enough for Telegram's 64-byte button data."""
KIND = "confirmation"
SPENT = "spent"
"""What a spent code is kept as: no longer whose it was or what it did (after /forget
target:me nothing may name the person)."""


class Outcome(enum.Enum):
    READY = "ready"
    SOMEONE_ELSE = "someone_else"
    EXPIRED = "expired"
    USED = "used"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Pending:
    """What a code will do, for whom; `expires_at` is a wall-clock time (Unix seconds)."""

    platform: str
    user_id: str
    target: str  # "me" or "channel"
    channel: ChannelKey
    expires_at: float


class Confirmations:
    """Issues codes and takes them back once, from the person they were issued to."""

    def __init__(self, state: SharedState, wall_clock: Callable[[], datetime]) -> None:
        """`wall_clock` judges expiry: every process reads the same time from it."""
        self._state = state
        self._wall_clock = wall_clock

    async def issue(self, *, user_id: str, target: str, channel: ChannelKey) -> str:
        code = secrets.token_urlsafe(CODE_BYTES)
        expires = self._now() + CONFIRM_SECONDS
        await self._keep(code, Pending(channel.platform, user_id, target, channel, expires))
        return code

    async def take(
        self, code: str, *, platform: str, user_id: str
    ) -> tuple[Outcome, Pending | None]:
        """The code's action, spent, when it is READY; else why not. A press by someone
        else does not spend it. Of two presses at once (in any processes) one is READY:
        the code is taken from the shared state, then put back as SPENT."""
        stored = await self._state.get(KIND, code)
        if stored == SPENT:
            return Outcome.USED, None
        pending = _decoded(stored)
        if pending is None:
            return Outcome.UNKNOWN, None
        if (pending.platform, pending.user_id) != (platform, user_id):
            return Outcome.SOMEONE_ELSE, None
        if self._now() >= pending.expires_at:
            return Outcome.EXPIRED, None
        taken = await self._state.take(KIND, code)
        if taken == SPENT or _decoded(taken) is None:  # another press got there first
            return Outcome.USED, None
        await self._state.put(KIND, code, SPENT, ttl=self._remembered(pending))
        return Outcome.READY, pending

    async def give_back(self, code: str, pending: Pending) -> None:
        """The action failed (the database refused): the code may be pressed again."""
        await self._keep(code, pending)

    async def forget_person(self, platform: str, user_id: str) -> None:
        """/forget target:me: their other codes go too (a spent one names no one)."""
        await self._state.delete_owned(KIND, owner_of(platform, user_id))

    async def _keep(self, code: str, pending: Pending) -> None:
        owner = owner_of(pending.platform, pending.user_id)
        ttl = self._remembered(pending)
        await self._state.put(KIND, code, _encoded(pending), ttl=ttl, owner=owner)

    def _remembered(self, pending: Pending) -> float:
        """Seconds from now until a code is forgotten altogether."""
        return max(pending.expires_at + REMEMBER_SECONDS - self._now(), 1.0)

    def _now(self) -> float:
        return self._wall_clock().timestamp()


def _encoded(pending: Pending) -> str:
    channel = pending.channel
    return json.dumps(
        {
            "platform": pending.platform,
            "user_id": pending.user_id,
            "target": pending.target,
            "channel": [channel.platform, channel.external_id, channel.parent_id],
            "expires_at": pending.expires_at,
        }
    )


def _decoded(text: str | None) -> Pending | None:
    """None for nothing, or for what this version cannot read (as if unknown)."""
    if text is None:
        return None
    try:
        data = json.loads(text)
        platform, external_id, parent_id = data["channel"]
        return Pending(
            platform=str(data["platform"]),
            user_id=str(data["user_id"]),
            target=str(data["target"]),
            channel=ChannelKey(str(platform), str(external_id), parent_id),
            expires_at=float(data["expires_at"]),
        )
    except (ValueError, KeyError, TypeError):
        return None
