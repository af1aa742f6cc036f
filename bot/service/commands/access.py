"""/access: a server's admins keep the bot to some of its channels, or to members with a role.

Values are platform ids, typed as the platforms let people type them: a channel as its
mention (`<#123>`, what Discord inserts when one picks `#channel` while typing), its id, or
`here` (the channel the command is typed in; in a thread, its channel; in a Telegram forum,
the topic); a role as its mention (`<@&456>`) or id. Knows the AccessRules port only.
"""

from __future__ import annotations

import re

from bot.core.commands import ACCESS_ACTIONS
from bot.core.domain import CommandCall, CommandResult, Permission
from bot.core.errors import PermissionDenied, UsageError
from bot.core.server_access import RuleKind, ServerRules
from bot.service.commands.registry import answers
from bot.service.server_access import ServerAccess

NOT_A_SERVER = (
    "/access sets where the bot answers within a server or group; this chat belongs to none."
)
NO_ROLES = (
    "There are no roles to check here. Keep the bot to some channels or topics with "
    "channel: instead, or ask the bot's operator to limit who may use it."
)
BAD_CHANNEL = "channel: takes a #channel (pick it while typing #), its id, or here."
BAD_ROLE = "role: takes a @role (pick it while typing @) or its id."
NOTHING_GIVEN = "/access {action} needs a channel: or a role:, e.g. /access {action} channel:here"
ADMINS_NEVER_KEPT_OUT = "Server admins are never kept out, so these rules can always be changed."

_CHANNEL = re.compile(r"<#(\d+)>|(-?\d+(?::\d+)?)")
_ROLE = re.compile(r"<@&(\d+)>|(\d+)")


class AccessCommands:
    """/access [action:list|allow|remove|clear] [channel:] [role:] — server admins only."""

    def __init__(self, *, access: ServerAccess) -> None:
        self._access = access

    @answers("access")
    async def _answer(self, call: CommandCall) -> CommandResult:
        if call.server is None:
            raise UsageError(NOT_A_SERVER)
        if call.actor.permission < Permission.SERVER_ADMIN:
            raise PermissionDenied("/access needs the right to manage the server or group.")
        action = call.options.get("action", "").strip().lower()
        wanted = _wanted(call)
        if not action:
            action = "allow" if wanted else "list"
        if action not in ACCESS_ACTIONS:  # the catalogue checks choices; a typed call too
            raise UsageError(f"/access takes action: {', '.join(ACCESS_ACTIONS)}.")
        platform, server = call.channel.platform, call.server
        store = self._access.store
        if action == "list":
            return CommandResult(_described(await store.rules(platform, server), call))
        if action == "clear":
            cleared = await store.clear(platform, server)
            self._access.changed(platform, server)
            head = f"Removed {cleared} rule{'' if cleared == 1 else 's'}. " if cleared else ""
            return CommandResult(head + _described(ServerRules(), call))
        if not wanted:
            raise UsageError(NOTHING_GIVEN.format(action=action))
        changed = []
        for kind, value in wanted:
            if action == "allow":
                done = await store.allow(platform, server, kind, value)
            else:
                done = await store.remove(platform, server, kind, value)
            if not done:
                changed.append(_unchanged(action, kind, value))
        self._access.changed(platform, server)
        now = _described(await store.rules(platform, server), call)
        return CommandResult("\n".join([*changed, now]))


def _wanted(call: CommandCall) -> list[tuple[RuleKind, str]]:
    """The rules the call names, read from its options; UsageError for a value that is
    neither a mention nor an id."""
    wanted: list[tuple[RuleKind, str]] = []
    channel = call.options.get("channel", "").strip()
    if channel:
        wanted.append((RuleKind.CHANNEL, _channel_id(channel, call)))
    role = call.options.get("role", "").strip()
    if role:
        if call.actor.roles is None:
            raise UsageError(NO_ROLES)
        wanted.append((RuleKind.ROLE, _matched(_ROLE, role, BAD_ROLE)))
    return wanted


def _channel_id(value: str, call: CommandCall) -> str:
    if value.lower() == "here":
        return call.channel.settings_key.external_id  # a thread follows its channel
    return _matched(_CHANNEL, value, BAD_CHANNEL)


def _matched(pattern: re.Pattern[str], value: str, problem: str) -> str:
    match = pattern.fullmatch(value)
    if match is None:
        raise UsageError(problem)
    return match.group(1) or match.group(2)


def _unchanged(action: str, kind: RuleKind, value: str) -> str:
    shown = _shown(kind, value)
    if action == "allow":
        return f"{shown} was allowed already."
    return f"{shown} had no rule to remove."


def _described(rules: ServerRules, call: CommandCall) -> str:
    """What holds now, in words, and whether it shuts out the channel the admin is in."""
    if rules.empty:
        return (
            "No rules: the bot answers in every channel, to every member "
            "(within what its operator allows)."
        )
    lines = []
    if rules.channels:
        shown = ", ".join(_shown(RuleKind.CHANNEL, c) for c in sorted(rules.channels))
        lines.append(f"The bot answers only in: {shown}.")
        if call.channel.settings_key.external_id not in rules.channels:
            lines.append("Not here: this channel isn't among them.")
    if rules.roles:
        shown = ", ".join(_shown(RuleKind.ROLE, r) for r in sorted(rules.roles))
        lines.append(f"Only to members with one of these roles: {shown}.")
    return "\n".join([*lines, ADMINS_NEVER_KEPT_OUT])


def _shown(kind: RuleKind, value: str) -> str:
    """A mention the platform links where it can: Discord ids are positive numbers; a
    Telegram topic is "group:topic"."""
    if kind is RuleKind.ROLE:
        return f"<@&{value}>"
    if ":" in value:
        return f"topic {value.partition(':')[2]}"
    if value.isdigit():
        return f"<#{value}>"
    return "this whole group"
