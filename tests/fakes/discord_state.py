"""What the fake Discord remembers: guilds, messages, commands, webhooks and interactions.

Plain data and the payloads built from it, changed under the server's lock; no HTTP here.
"""

from __future__ import annotations

import copy
import mimetypes
import secrets
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_wire import (
    ATTACHMENT_SIZE_LIMIT,
    ApiError,
    Guild,
    JsonDict,
    Member,
    Snowflakes,
    channel_dict,
    message_dict,
    now_iso,
    user_dict,
)

OPTION_TYPES = {bool: 5, int: 4, float: 10, str: 3}


@dataclass(frozen=True, slots=True)
class Upload:
    """A file: sent by the bot in a multipart request, or attached by a user."""

    filename: str
    data: bytes
    content_type: str


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


class DiscordState:
    """Everything the fake knows; every method is called under the server's lock."""

    def __init__(self, bot: JsonDict, application_id: int, base_url: str = "") -> None:
        self.bot = bot
        self.application_id = application_id
        self.base_url = base_url  # for attachment URLs; set once the port is known
        self.ids = Snowflakes()
        self.guilds: dict[int, Guild] = {}
        self.users: dict[int, JsonDict] = {int(bot["id"]): bot}
        self.channel_guild: dict[int, int] = {}
        self.channels: dict[int, dict[int, JsonDict]] = {}  # channel -> id -> message
        self.user_message_ids: set[int] = set()
        self.allowed_mentions: dict[int, JsonDict] = {}
        self.commands: list[JsonDict] = []
        self.guild_commands: dict[int, list[JsonDict]] = {}
        self.webhooks: dict[int, JsonDict] = {}
        self.interactions: dict[int, Interaction] = {}
        self.uploads: dict[int, Upload] = {}

    # Configuration.
    def add_guild(self, guild_id: int, name: str, *, owner_id: int) -> Guild:
        guild = self.guilds[guild_id] = Guild(guild_id, name, owner_id)
        return guild

    def add_channel(self, guild_id: int, channel_id: int, name: str) -> JsonDict:
        guild = self.guilds[guild_id]
        channel = channel_dict(channel_id, guild_id, name, len(guild.channels))
        guild.channels[channel_id] = channel
        self.channel_guild[channel_id] = guild_id
        self.channels.setdefault(channel_id, {})
        return channel

    def add_member(
        self, guild_id: int, user_id: int, username: str, *, permissions: int, bot: bool = False
    ) -> None:
        user = self.users.setdefault(user_id, user_dict(user_id, username, bot=bot))
        role_id = self.ids.next() if permissions else None
        self.guilds[guild_id].members[user_id] = Member(user, permissions, role_id)

    def guild_of(self, channel_id: int) -> Guild:
        if channel_id not in self.channel_guild:
            raise ApiError(404, "Unknown Channel", code=10003)
        return self.guilds[self.channel_guild[channel_id]]

    def channel(self, channel_id: int) -> JsonDict:
        return self.guild_of(channel_id).channels[channel_id]

    def user(self, user: JsonDict | int | None, default: int) -> JsonDict:
        if isinstance(user, dict):
            return self.users.setdefault(int(user["id"]), user)
        user_id = default if user is None else user
        return self.users.setdefault(user_id, user_dict(user_id, f"user{user_id}"))

    # Messages.
    def message(self, channel_id: int, message_id: int | str) -> JsonDict:
        self.guild_of(channel_id)
        found = self.channels[channel_id].get(int(message_id))
        if found is None:
            raise ApiError(404, "Unknown Message", code=10008)
        return found

    def store(self, message: JsonDict) -> JsonDict:
        self.channels[int(message["channel_id"])][int(message["id"])] = message
        return message

    def new_message(self, channel_id: int, author: JsonDict, content: str) -> JsonDict:
        guild = self.guild_of(channel_id)
        message = message_dict(self.ids.next(), channel_id, guild.id, author, content)
        author_id = int(author["id"])
        if "webhook_id" not in message and author_id in guild.members:
            message["member"] = guild.member_dict(author_id, with_user=False)
        return message

    def apply(self, message: JsonDict, body: JsonDict, uploads: list[Upload]) -> None:
        """What a bot's create or edit body changes in a message; the rest is kept."""
        for key in ("content", "embeds", "components", "flags", "tts"):
            if key in body and body[key] is not None:
                message[key] = body[key]
        if uploads or "attachments" in body:
            kept = {str(a.get("id")) for a in body.get("attachments") or []}
            old = [a for a in message["attachments"] if a["id"] in kept]
            message["attachments"] = old + [self.attachment(u) for u in uploads]
        if body.get("allowed_mentions") is not None:
            message["allowed_mentions"] = body["allowed_mentions"]
        reference = body.get("message_reference")
        if reference:
            target = self.channels[int(message["channel_id"])].get(int(reference["message_id"]))
            message["type"] = 19
            message["message_reference"] = {"channel_id": message["channel_id"]} | reference
            message["referenced_message"] = copy.deepcopy(target)

    def attachment(self, upload: Upload) -> JsonDict:
        attachment_id = self.ids.next()
        self.uploads[attachment_id] = upload
        url = f"{self.base_url}/attachments/{attachment_id}/{upload.filename}"
        return {
            "id": str(attachment_id), "filename": upload.filename, "size": len(upload.data),
            "url": url, "proxy_url": url, "content_type": upload.content_type,
        }  # fmt: skip

    def messages(self, channel_id: int, *, include_users: bool) -> list[JsonDict]:
        return [
            copy.deepcopy(message)
            for message_id, message in self.channels.get(channel_id, {}).items()
            if include_users or message_id not in self.user_message_ids
        ]

    def user_message(
        self, channel_id: int, content: str, *, author: JsonDict, mentions_bot: bool,
        reply_to: int | None, uploads: list[Upload],
    ) -> JsonDict:  # fmt: skip
        if mentions_bot and f"<@{self.bot['id']}>" not in content:
            content = f"<@{self.bot['id']}> {content}"
        message = self.new_message(channel_id, author, content)
        if f"<@{self.bot['id']}>" in content:
            message["mentions"] = [self.bot]
        if reply_to is not None:
            self.message(channel_id, reply_to)  # Discord refuses a reply to nothing
        self.apply(message, {"message_reference": _reference(reply_to)}, uploads)
        self.user_message_ids.add(int(message["id"]))
        return self.store(message)

    # Application commands.
    def command(self, name: str, guild_id: int | None) -> JsonDict:
        for command in self.guild_commands.get(guild_id or 0, []) + self.commands:
            if command["name"] == name:
                return command
        raise KeyError(f"no synced command /{name}: has the bot synced its command tree?")

    def put_commands(self, guild_id: int | None, commands: list[JsonDict]) -> list[JsonDict]:
        """Replace the set; a command keeps its id across syncs, as on Discord."""
        old = {
            c["name"]: c
            for c in (self.guild_commands.get(guild_id, []) if guild_id else self.commands)
        }
        synced = []
        for command in commands:
            previous = old.get(command["name"])
            command_id = previous["id"] if previous else str(self.ids.next())
            synced.append(
                {"type": 1, "description": "", "options": [], "nsfw": False}
                | command
                | {"id": command_id, "application_id": str(self.application_id)}
                | {"version": str(self.ids.next())}
                | ({"guild_id": str(guild_id)} if guild_id else {})
            )
        if guild_id:
            self.guild_commands[guild_id] = synced
        else:
            self.commands = synced
        return copy.deepcopy(synced)

    # Interactions.
    def interaction(
        self, kind: int, channel_id: int, data: JsonDict | None, *, user: JsonDict,
        member_permissions: int | None, message: JsonDict | None = None,
    ) -> Interaction:  # fmt: skip
        """An INTERACTION_CREATE payload from a member of the channel's guild."""
        guild = self.guild_of(channel_id)
        user_id = int(user["id"])
        if user_id not in guild.members:
            self.add_member(guild.id, user_id, user["username"], permissions=0)
        member = guild.member_dict(user_id)
        permissions = guild.permissions_of(user_id)
        member["permissions"] = str(
            permissions if member_permissions is None else member_permissions
        )
        interaction = Interaction(
            self.ids.next(), secrets.token_urlsafe(32), kind, channel_id, guild.id, {}
        )
        payload: JsonDict = {
            "id": str(interaction.id), "application_id": str(self.application_id), "type": kind,
            "token": interaction.token, "version": 1, "guild_id": str(guild.id),
            "channel_id": str(channel_id), "channel": self.channel(channel_id), "member": member,
            "app_permissions": str(guild.permissions_of(int(self.bot["id"]))),
            "locale": "en-US", "guild_locale": "en-US", "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild.id)}, "context": 0,
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
            "guild": {"id": str(guild.id), "locale": "en-US", "features": []},
        }  # fmt: skip
        if data is not None:
            payload["data"] = data
        if message is not None:
            payload["message"] = copy.deepcopy(message)
            interaction.original_id = int(message["id"])
        interaction.payload = payload
        self.interactions[interaction.id] = interaction
        return interaction

    def by_token(self, token: str) -> Interaction:
        for interaction in self.interactions.values():
            if interaction.token == token:
                return interaction
        raise ApiError(404, "Unknown Webhook", code=10015)


def command_options(command: JsonDict, options: dict[str, Any] | list[JsonDict]) -> list[JsonDict]:
    """Options as Discord sends them; a {name: value} dict takes each type from the command."""
    if isinstance(options, list):
        return options
    declared = {option["name"]: option for option in command.get("options") or []}
    typed = []
    for name, value in options.items():
        kind = declared[name]["type"] if name in declared else OPTION_TYPES[type(value)]
        typed.append({"name": name, "type": kind, "value": value})
    return typed


def upload(filename: str, data: bytes) -> Upload:
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Upload(filename, data, guessed)


def _reference(message_id: int | None) -> JsonDict | None:
    return None if message_id is None else {"message_id": str(message_id)}


def edited(message: JsonDict) -> JsonDict:
    message["edited_timestamp"] = now_iso()
    return message
