"""Where in a server the bot may be used, and by whom: the rules its admins set with /access.

The operator's lists (platforms/common/access.py) say which servers and people may use the
bot at all; within a server its own admins narrow that to some channels, some roles, or
both. Each kind of rule narrows only when it has entries: a server with no channel rules
allows every channel, one with no role rules every member. A thread follows its channel.
Server admins (and the bot's operators) are never refused, so rules can always be undone.
"""

from __future__ import annotations

import enum
from collections.abc import Collection
from dataclasses import dataclass

from bot.core.domain import ChannelKey


class RuleKind(enum.StrEnum):
    CHANNEL = "channel"
    ROLE = "role"


class Narrowed(enum.Enum):
    """Why a server's own rules turned someone away (a notice is owed once per window)."""

    CHANNEL = "channel"
    ROLE = "role"


@dataclass(frozen=True, slots=True)
class ServerRules:
    """A server's allowed channels and roles, as platform ids; empty sets allow all."""

    channels: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.channels and not self.roles

    def narrowed(self, channel: ChannelKey, roles: Collection[str]) -> Narrowed | None:
        """None when a member holding `roles` may use the bot in `channel`; else why not.
        The channel is checked first: in a channel the bot is kept out of, the answer
        should not send someone off to get a role."""
        if self.channels and channel.settings_key.external_id not in self.channels:
            return Narrowed.CHANNEL
        if self.roles and self.roles.isdisjoint(roles):
            return Narrowed.ROLE
        return None

    def with_rule(self, kind: RuleKind, value: str) -> ServerRules:
        if kind is RuleKind.CHANNEL:
            return ServerRules(self.channels | {value}, self.roles)
        return ServerRules(self.channels, self.roles | {value})


NO_RULES = ServerRules()
"""A server whose admins set nothing: the bot may be used anywhere the operator allows."""


def narrowed_text(reason: Narrowed) -> str:
    """One short line for the refused person, said privately: where to go or whom to ask."""
    if reason is Narrowed.CHANNEL:
        return (
            "This server's admins keep the bot to some channels, and this isn't one of them; "
            "/access lists where it answers."
        )
    return (
        "This server's admins keep the bot to members with certain roles; "
        "ask them for one if you want to use it."
    )
