"""One-time confirmation codes: what a destructive command hands out before it acts.

A code is bound to the person who asked (platform and user id) and to what it will do,
works once, and expires. Codes live in this process's memory: a restart forgets them,
which only means asking again (the answer says so). Spent and expired codes are
remembered a while longer, so that a late press hears "used" or "expired", not "unknown".
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, replace

from bot.core.domain import ChannelKey
from bot.core.ports import Clock

CONFIRM_SECONDS = 5 * 60
"""How long a confirmation button works."""
REMEMBER_SECONDS = 60 * 60
"""How long past its end a code is still recognised, to say why it no longer works."""
CODE_BYTES = 9
"""12 URL-safe characters: unguessable, and short enough for Telegram's 64-byte button data."""


class Outcome(enum.Enum):
    READY = "ready"
    SOMEONE_ELSE = "someone_else"
    EXPIRED = "expired"
    USED = "used"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Pending:
    """What a code will do, for whom."""

    platform: str
    user_id: str
    target: str  # "me" or "channel"
    channel: ChannelKey
    expires_at: float
    used: bool = False


class Confirmations:
    """Issues codes and takes them back once, from the person they were issued to."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._codes: dict[str, Pending] = {}

    def issue(self, *, user_id: str, target: str, channel: ChannelKey) -> str:
        self._forget_old()
        code = secrets.token_urlsafe(CODE_BYTES)
        expires = self._clock.now() + CONFIRM_SECONDS
        self._codes[code] = Pending(channel.platform, user_id, target, channel, expires)
        return code

    def take(self, code: str, *, platform: str, user_id: str) -> tuple[Outcome, Pending | None]:
        """The code's action, spent, when it is READY; else why not. A press by someone
        else does not spend it."""
        self._forget_old()
        pending = self._codes.get(code)
        if pending is None:
            return Outcome.UNKNOWN, None
        if (pending.platform, pending.user_id) != (platform, user_id):
            return Outcome.SOMEONE_ELSE, None
        if pending.used:
            return Outcome.USED, None
        if self._clock.now() >= pending.expires_at:
            return Outcome.EXPIRED, None
        self._codes[code] = replace(pending, used=True)
        return Outcome.READY, pending

    def give_back(self, code: str) -> None:
        """The action failed (the database refused): the code may be pressed again."""
        pending = self._codes.get(code)
        if pending is not None:
            self._codes[code] = replace(pending, used=False)

    def _forget_old(self) -> None:
        horizon = self._clock.now() - REMEMBER_SECONDS
        self._codes = {c: p for c, p in self._codes.items() if p.expires_at > horizon}
