"""Interactions as the fake Discord sends them: in a guild (with `member`) or in the bot's DM
(with `user`, context 1), plus the shapes of command options and modal submissions.

Builds payloads from the state; knows nothing of HTTP or the gateway.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.discord.wire import (
    ATTACHMENT_SIZE_LIMIT,
    EVERYONE_PERMISSIONS,
    JsonDict,
)

if TYPE_CHECKING:
    from tests.fakes.discord.state import DiscordState

Fields = Mapping[str, str | Sequence[str]]  # a modal's inputs: text, or a select's values
OPTION_TYPES = {bool: 5, int: 4, float: 10, str: 3}
ATTACHMENT_OPTION = 11
GUILD_CONTEXT, BOT_DM_CONTEXT = 0, 1
MODAL_RESPONSE = 9
TEXT_INPUT, LABEL = 4, 18


@dataclass(slots=True)
class Interaction:
    """An interaction the fake sent, and everything the bot answered to it, in order."""

    id: int
    token: str
    type: int
    channel_id: int
    guild_id: int | None
    payload: JsonDict
    responses: list[JsonDict] = field(default_factory=list)
    original_id: int | None = None  # the message the response created or updates
    message_ids: list[int] = field(default_factory=list)  # created: the response, followups

    @property
    def user(self) -> JsonDict:
        """Who interacted: `member.user` in a guild, `user` in a DM."""
        if "member" in self.payload:
            member_user: JsonDict = self.payload["member"]["user"]
            return member_user
        user: JsonDict = self.payload["user"]
        return user


def build_interaction(
    state: DiscordState, kind: int, channel_id: int, data: JsonDict | None, *,
    user: JsonDict, member_permissions: int | None, message: JsonDict | None = None,
) -> Interaction:  # fmt: skip
    """An INTERACTION_CREATE payload, stored in the state: from a member of the channel's guild
    (joining it if need be), or from the recipient of a DM channel (`member_permissions` unused)."""
    guild_id = state.guild_id_of(channel_id)
    interaction = Interaction(
        state.ids.next(), secrets.token_urlsafe(32), kind, channel_id, guild_id, {}
    )
    payload: JsonDict = {
        "id": str(interaction.id), "application_id": str(state.application_id), "type": kind,
        "token": interaction.token, "version": 1, "channel_id": str(channel_id),
        "channel": copy.deepcopy(state.channel(channel_id)), "locale": "en-US",
        "entitlements": [], "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }  # fmt: skip
    if guild_id is None:
        payload |= _in_dm(state, channel_id, user)
    else:
        payload |= _in_guild(state, guild_id, user, member_permissions)
    if data is not None:
        payload["data"] = data
    if message is not None:
        payload["message"] = copy.deepcopy(message)
        interaction.original_id = int(message["id"])
    interaction.payload = payload
    state.interactions[interaction.id] = interaction
    return interaction


def _in_guild(
    state: DiscordState, guild_id: int, user: JsonDict, member_permissions: int | None
) -> JsonDict:
    guild = state.guilds[guild_id]
    user_id = int(user["id"])
    if user_id not in guild.members:
        state.add_member(guild.id, user_id, user["username"], permissions=0)
    member = guild.member_dict(user_id)
    permissions = guild.permissions_of(user_id)
    member["permissions"] = str(permissions if member_permissions is None else member_permissions)
    return {
        "guild_id": str(guild.id), "member": member, "guild_locale": "en-US",
        "app_permissions": str(guild.permissions_of(int(state.bot["id"]))),
        "authorizing_integration_owners": {"0": str(guild.id)}, "context": GUILD_CONTEXT,
        "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
    }  # fmt: skip


def _in_dm(state: DiscordState, channel_id: int, user: JsonDict) -> JsonDict:
    """No guild_id, no member: the user, and "0" as the guild owner of the integration."""
    recipient = state.dm_recipient(channel_id)
    if recipient is not None and recipient["id"] != user["id"]:
        raise ValueError(f"user {user['id']} is not the recipient of DM channel {channel_id}")
    return {
        "user": copy.deepcopy(user), "app_permissions": str(EVERYONE_PERMISSIONS),
        "authorizing_integration_owners": {"0": "0"}, "context": BOT_DM_CONTEXT,
    }  # fmt: skip


def check_usable_in_dm(command: JsonDict) -> None:
    """Discord offers a command in the bot's DM only if it is global, not `dm_permission:
    false` (discord.py's guild_only) and its `contexts`, when set, include BOT_DM (1)."""
    contexts = command.get("contexts")
    if (
        "guild_id" in command
        or command.get("dm_permission") is False
        or (contexts is not None and BOT_DM_CONTEXT not in contexts)
    ):
        raise ValueError(f"/{command['name']} is not offered in DMs (guild-only or contexts)")


def command_options(
    state: DiscordState, command: JsonDict, options: Mapping[str, Any] | list[JsonDict]
) -> tuple[list[JsonDict], JsonDict]:
    """Options as Discord sends them, and the `resolved` part they need. A {name: value} dict
    takes each type from the command; a (filename, bytes) value is a file the user attached
    (type 11): uploaded, its id the value, its attachment in resolved.attachments."""
    if isinstance(options, list):
        return options, {}
    declared = {option["name"]: option for option in command.get("options") or []}
    typed, attachments = [], {}
    for name, value in options.items():
        if isinstance(value, tuple):
            attachment = state.attach(*value)
            attachments[attachment["id"]] = attachment
            typed.append({"name": name, "type": ATTACHMENT_OPTION, "value": attachment["id"]})
            continue
        kind = declared[name]["type"] if name in declared else OPTION_TYPES[type(value)]
        typed.append({"name": name, "type": kind, "value": value})
    return typed, ({"attachments": attachments} if attachments else {})


def shown_modal(
    state: DiscordState, channel_id: int, custom_id: str
) -> tuple[Interaction, JsonDict]:
    """The latest interaction in the channel that the bot answered with modal `custom_id`,
    and that modal."""
    for interaction in reversed(state.interactions.values()):
        if interaction.channel_id != channel_id:
            continue
        for response in interaction.responses:
            if (
                response["type"] == MODAL_RESPONSE
                and response["data"].get("custom_id") == custom_id
            ):
                return interaction, response["data"]
    raise KeyError(f"the bot showed no modal {custom_id!r} in channel {channel_id}")


def modal_submission(modal: JsonDict, fields: Fields) -> list[JsonDict]:
    """The submitted components, shaped as the modal was (action rows or labels), each input
    with its value (a select's `values`). Unknown ids and missing required inputs raise."""
    known: set[str] = set()
    submitted = [_submitted(c, fields, known) for c in modal.get("components") or []]
    if unknown := set(fields) - known:
        raise KeyError(f"modal {modal.get('custom_id')!r} has no inputs {sorted(unknown)}")
    return submitted


def _submitted(component: JsonDict, fields: Fields, known: set[str]) -> JsonDict:
    if component["type"] == LABEL:
        return {"type": LABEL, "component": _submitted(component["component"], fields, known)}
    if "components" in component:  # an action row
        inner = [_submitted(c, fields, known) for c in component["components"]]
        return {"type": component["type"], "components": inner}
    custom_id = component.get("custom_id")
    if custom_id is None:
        return {"type": component["type"]}
    known.add(custom_id)
    value = fields.get(custom_id)
    if value is None and component.get("required", True) and component["type"] == TEXT_INPUT:
        raise ValueError(f"the required input {custom_id!r} was left empty")
    answer: JsonDict = {"type": component["type"], "custom_id": custom_id}
    if component["type"] == TEXT_INPUT:
        answer["value"] = value if isinstance(value, str) else ""
    else:
        answer["values"] = [value] if isinstance(value, str) else list(value or [])
    return answer
