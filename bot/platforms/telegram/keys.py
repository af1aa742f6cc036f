"""API keys never travel through a group: one-time links to a private chat instead.

A group admin who runs /connect gets a deep link (`t.me/<bot>?start=<token>`). The token
is single use, works only for the admin it was made for, and expires; opening it in a
private chat arms that chat to take the key as the next message, which then completes
the /connect the admin began in the group.

Tokens live in the shared state (the database), so any process may redeem a link another
made, and a restart forgets none.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.commands import CATALOGUE
from bot.core.domain import ChannelKey
from bot.core.shared_state import SharedState, owner_of
from bot.platforms.telegram.outbox import PLATFORM

LINK_SECONDS = 10 * 60
"""How long a link, and then the wait for the key, stay valid."""
LINK_KIND = "telegram_key_link"
WAIT_KIND = "telegram_key_wait"
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
    """The one-time links to the private key flow, and who is waiting to send a key.

    Both live in the shared state (the database): a link offered by one process is opened
    in another, and the key typed next is taken by whichever process receives it. Neither
    holds a key: a link carries the /connect options without their secrets.
    """

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def issue(self, request: KeyRequest) -> str:
        """A fresh token for `request`; older unused ones of the same admin still work."""
        token = secrets.token_urlsafe(18)
        await self._state.put(
            LINK_KIND, token, _encoded(request), ttl=LINK_SECONDS, owner=_owner(request.user_id)
        )
        return token

    async def open(self, token: str, user_id: int) -> KeyRequest | None:
        """The request behind a link opened by `user_id`, used up; None if the link is
        unknown, used, expired, or was made for someone else (who does not use it up)."""
        request = _decoded(await self._state.get(LINK_KIND, token))
        if request is None or request.user_id != user_id:
            return None
        return _decoded(await self._state.take(LINK_KIND, token))

    async def await_key(self, request: KeyRequest) -> None:
        await self._state.put(
            WAIT_KIND,
            str(request.user_id),
            _encoded(request),
            ttl=LINK_SECONDS,
            owner=_owner(request.user_id),
        )

    async def waiting(self, user_id: int) -> bool:
        """Whether this user's next private message is a key they were asked for."""
        return await self._state.get(WAIT_KIND, str(user_id)) is not None

    async def take_waiting(self, user_id: int) -> KeyRequest | None:
        """The request whose key this user's next private message is, once."""
        return _decoded(await self._state.take(WAIT_KIND, str(user_id)))

    async def forget(self, platform: str, user_id: str) -> int:
        """Drop a person's links and any wait for their key (/forget): how many."""
        if platform != PLATFORM or not user_id.isdigit():
            return 0
        owner = _owner(int(user_id))
        links = await self._state.delete_owned(LINK_KIND, owner)
        return links + await self._state.delete_owned(WAIT_KIND, owner)


def _owner(user_id: int) -> str:
    return owner_of(PLATFORM, str(user_id))


def _encoded(request: KeyRequest) -> str:
    channel = request.channel
    return json.dumps(
        {
            "user_id": request.user_id,
            "group_id": request.group_id,
            "group_title": request.group_title,
            "channel": [channel.platform, channel.external_id, channel.parent_id],
            "options": dict(request.options),
        }
    )


def _decoded(text: str | None) -> KeyRequest | None:
    """None for nothing, or for what this version cannot read (the link is then gone)."""
    if text is None:
        return None
    try:
        data = json.loads(text)
        platform, external_id, parent_id = data["channel"]
        return KeyRequest(
            user_id=int(data["user_id"]),
            group_id=int(data["group_id"]),
            group_title=str(data["group_title"]),
            channel=ChannelKey(str(platform), str(external_id), parent_id),
            options={str(k): str(v) for k, v in dict(data["options"]).items()},
        )
    except (ValueError, KeyError, TypeError):
        return None
