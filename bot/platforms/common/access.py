"""Who the operator lets use the bot, and how often a refused person is told so.

The policy is platform-neutral: a user, the place they write in (a Discord server, a
Telegram chat) and whether it is a private chat. It knows no SDK and reads no settings;
the composition root builds it, and each adapter asks it before anything reaches the
service, so a refused message never becomes a turn, a row or an endpoint request.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from collections.abc import Collection
from dataclasses import dataclass

from bot.core.domain import ChannelKey
from bot.core.ports import Clock
from bot.core.server_access import Narrowed, ServerRules, narrowed_text

DEFAULT_NOTICE_SECONDS = 600.0
NOTICES_KEPT = 10_000
"""How many (user, reason) notices are remembered at most; the oldest go first, so a flood
of strangers costs bounded memory and at worst an extra notice to someone."""


class Refused(enum.Enum):
    """Why someone was turned away; a notice is owed once per window for each."""

    USER = "user"
    PLACE = "place"
    PRIVATE = "private"
    CHANNEL = "channel"  # the server's admins keep the bot to other channels (/access)
    ROLE = "role"  # … or to members with roles this person lacks


@dataclass(frozen=True, slots=True)
class Wording:
    """A platform's words for its places, so a refusal says where and whom to ask."""

    place: str = "chat"
    """What a shared place is called: "server" on Discord."""
    private: str = "Private chats with this bot are turned off; talk to it in a group where it is."


@dataclass(frozen=True, slots=True)
class Refusal:
    reason: Refused
    text: str
    """One short line for the refused person, never posted where others read it."""


@dataclass(frozen=True, slots=True)
class AccessPolicy:
    """The operator's allow and block lists (ids) and the private-chat switch.

    An empty allow list admits everyone; a block list wins over an allow list; operators
    are never refused. Places are Discord servers or Telegram chats (a group's id is
    negative, a private chat's is its user's); a Discord DM has no place, so only the
    user lists and the private switch apply to it.
    """

    allowed_places: frozenset[int] = frozenset()
    blocked_places: frozenset[int] = frozenset()
    allowed_users: frozenset[int] = frozenset()
    blocked_users: frozenset[int] = frozenset()
    private_chats: bool = True
    operators: frozenset[int] = frozenset()
    notice_seconds: float = DEFAULT_NOTICE_SECONDS
    """A refused person is told at most once per this many seconds for each reason."""

    def refusal(
        self, user: int, place: int | None, *, private: bool, wording: Wording = Wording()
    ) -> Refusal | None:
        """None when `user` may use the bot in `place`; otherwise why not, in their words."""
        reason = self.reason(user, place, private=private)
        return None if reason is None else Refusal(reason, refusal_text(reason, wording))

    def reason(self, user: int, place: int | None, *, private: bool) -> Refused | None:
        """The blocks first (they win over the allow lists), then the private switch, then
        the allow lists."""
        if user in self.operators:
            return None
        if user in self.blocked_users:
            return Refused.USER
        if place is not None and place in self.blocked_places:
            return Refused.PLACE
        if private and not self.private_chats:
            return Refused.PRIVATE
        return self._not_allowed(user, place)

    def _not_allowed(self, user: int, place: int | None) -> Refused | None:
        if place is not None and self.allowed_places and place not in self.allowed_places:
            return Refused.PLACE
        if self.allowed_users and user not in self.allowed_users:
            return Refused.USER
        return None


EVERYONE = AccessPolicy()
"""Admits everyone everywhere: the default, so a bot without access settings is unchanged."""


def refusal_text(reason: Refused, wording: Wording) -> str:
    if reason is Refused.PRIVATE:
        return wording.private
    if reason is Refused.PLACE:
        return (
            f"This bot isn't available in this {wording.place}; its operator decides where it runs."
        )
    return "This bot isn't available to you; its operator decides who may use it."


def narrowed(rules: ServerRules, channel: ChannelKey, roles: Collection[str]) -> Refusal | None:
    """The server's own rules (/access) as a refusal, for someone who is not its admin."""
    reason = rules.narrowed(channel, roles)
    if reason is None:
        return None
    refused = Refused.CHANNEL if reason is Narrowed.CHANNEL else Refused.ROLE
    return Refusal(refused, narrowed_text(reason))


class RefusalNotices:
    """When a refused person is next told: once per (user, reason) per window.

    In this process's memory (a restart forgets it, which costs at most one extra notice;
    shared state moves to the database later), bounded to `capacity` entries.
    """

    def __init__(self, clock: Clock, seconds: float, *, capacity: int = NOTICES_KEPT) -> None:
        self._clock = clock
        self._seconds = seconds
        self._capacity = capacity
        self._told: OrderedDict[tuple[int, Refused], float] = OrderedDict()  # oldest first

    def due(self, user: int, reason: Refused) -> bool:
        """Whether to tell `user` now; if so, the window starts again from now."""
        now = self._clock.now()
        self._forget_before(now - self._seconds)
        key = (user, reason)
        if key in self._told:
            return False
        while len(self._told) >= self._capacity:
            self._told.popitem(last=False)
        self._told[key] = now
        return True

    def _forget_before(self, cutoff: float) -> None:
        while self._told:
            key, told_at = next(iter(self._told.items()))
            if told_at > cutoff:
                return
            del self._told[key]

    def __len__(self) -> int:
        return len(self._told)


class AccessGate:
    """An adapter's door: the policy in its platform's words, and the notices owed."""

    def __init__(self, policy: AccessPolicy, clock: Clock, *, wording: Wording) -> None:
        self.policy = policy
        self._wording = wording
        self._notices = RefusalNotices(clock, policy.notice_seconds)

    def refusal(self, user: int, place: int | None, *, private: bool) -> Refusal | None:
        return self.policy.refusal(user, place, private=private, wording=self._wording)

    def notice(self, user: int, refusal: Refusal) -> str | None:
        """The text to tell `user` privately now, or None if they were told recently."""
        return refusal.text if self._notices.due(user, refusal.reason) else None
