"""API keys never travel through a group: one-time links to a private chat instead.

A group admin who runs /connect gets a deep link (`t.me/<bot>?start=<token>`). The token
is single use, works only for the admin it was made for, and expires; opening it in a
private chat arms that chat to take the key as the next message, which then completes
the /connect the admin began in the group.

Tokens live in this process's memory: a restart forgets them, which only means asking
for a new link. (Several processes behind a webhook would need them in the database.)
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.commands import CATALOGUE
from bot.core.domain import ChannelKey
from bot.core.ports import Clock
from bot.platforms.telegram.outbox import PLATFORM

LINK_SECONDS = 10 * 60
"""How long a link, and then the wait for the key, stay valid."""
SECRET_OPTIONS = frozenset(
    option.name for spec in CATALOGUE for option in spec.options if option.secret
)


@dataclass(frozen=True, slots=True)
class KeyRequest:
    """A /connect begun in a group, waiting for its key in the admin's private chat."""

    user_id: int
    group_id: int
    group_title: str
    channel: ChannelKey
    options: Mapping[str, str] = field(default_factory=dict)  # never a secret one


MIN_KEY_CHARS = 8
MAX_KEY_CHARS = 512


def plausible_key(text: str) -> bool:
    """What the private key flow accepts: one word of a sensible length."""
    return MIN_KEY_CHARS <= len(text) <= MAX_KEY_CHARS and not any(c.isspace() for c in text)


def without_secrets(options: Mapping[str, str]) -> dict[str, str]:
    return {name: value for name, value in options.items() if name not in SECRET_OPTIONS}


def carries_secret(options: Mapping[str, str]) -> bool:
    return any(options.get(name, "").strip() for name in SECRET_OPTIONS)


class KeyLinks:
    """The one-time links to the private key flow, and who is waiting to send a key."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._links: dict[str, tuple[KeyRequest, float]] = {}
        self._waiting: dict[int, tuple[KeyRequest, float]] = {}

    def issue(self, request: KeyRequest) -> str:
        """A fresh token for `request`; older unused ones of the same admin still work."""
        self._forget_expired()
        token = secrets.token_urlsafe(18)
        self._links[token] = (request, self._clock.now() + LINK_SECONDS)
        return token

    def open(self, token: str, user_id: int) -> KeyRequest | None:
        """The request behind a link opened by `user_id`, used up; None if the link is
        unknown, used, expired, or was made for someone else (who does not use it up)."""
        self._forget_expired()
        entry = self._links.get(token)
        if entry is None or entry[0].user_id != user_id:
            return None
        del self._links[token]
        return entry[0]

    def await_key(self, request: KeyRequest) -> None:
        self._waiting[request.user_id] = (request, self._clock.now() + LINK_SECONDS)

    def waiting(self, user_id: int) -> bool:
        """Whether this user's next private message is a key they were asked for."""
        self._forget_expired()
        return user_id in self._waiting

    def take_waiting(self, user_id: int) -> KeyRequest | None:
        """The request whose key this user's next private message is, once."""
        self._forget_expired()
        entry = self._waiting.pop(user_id, None)
        return entry[0] if entry is not None else None

    def forget(self, platform: str, user_id: str) -> int:
        """Drop a person's links and any wait for their key (/forget): how many."""
        if platform != PLATFORM or not user_id.isdigit():
            return 0
        user = int(user_id)
        links = [token for token, (request, _) in self._links.items() if request.user_id == user]
        for token in links:
            del self._links[token]
        waited = self._waiting.pop(user, None) is not None
        return len(links) + waited

    def _forget_expired(self) -> None:
        now = self._clock.now()
        self._links = {k: v for k, v in self._links.items() if v[1] > now}
        self._waiting = {k: v for k, v in self._waiting.items() if v[1] > now}
