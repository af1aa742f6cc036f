"""What the fake Discord remembers: guilds, channels (text, threads, DMs), messages, commands,
webhooks and interactions.

Plain data and the payloads built from it, changed under the server's lock; no HTTP here.
"""

from __future__ import annotations

import copy
import mimetypes
from dataclasses import dataclass

from tests.fakes.discord.interactions import Interaction
from tests.fakes.discord.wire import (
    EPHEMERAL,
    ApiError,
    Guild,
    JsonDict,
    Member,
    Snowflakes,
    channel_dict,
    dm_channel_dict,
    message_dict,
    now_iso,
    thread_dict,
    user_dict,
)


@dataclass(frozen=True, slots=True)
class Upload:
    """A file: sent by the bot in a multipart request, or attached by a user."""

    filename: str
    data: bytes
    content_type: str


class DiscordState:
    """Everything the fake knows; every method is called under the server's lock.

    A channel id is a guild's text channel or thread (in `channel_guild`) or a DM (in
    `dm_channels`); `channels` holds every channel's messages. Ephemeral messages live apart,
    in `ephemeral`: only the user who interacted sees them, so no channel lists them.
    """

    def __init__(self, bot: JsonDict, application_id: int, base_url: str = "") -> None:
        self.bot = bot
        self.application_id = application_id
        self.base_url = base_url  # for attachment URLs; set once the port is known
        self.ids = Snowflakes()
        self.guilds: dict[int, Guild] = {}
        self.users: dict[int, JsonDict] = {int(bot["id"]): bot}
        self.channel_guild: dict[int, int] = {}
        self.dm_channels: dict[int, JsonDict] = {}
        self.channels: dict[int, dict[int, JsonDict]] = {}  # channel -> id -> message
        self.ephemeral: dict[int, JsonDict] = {}  # id -> message
        self.user_message_ids: set[int] = set()
        self.commands: list[JsonDict] = []
        self.guild_commands: dict[int, list[JsonDict]] = {}
        self.webhooks: dict[int, JsonDict] = {}
        self.webhook_avatars: dict[int, bytes] = {}
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

    def add_thread(
        self, guild_id: int, parent_id: int, thread_id: int, name: str, *, owner_id: int
    ) -> JsonDict:
        guild = self.guilds[guild_id]
        if parent_id not in guild.channels:
            raise ValueError(f"no text channel {parent_id} in guild {guild_id} to hold a thread")
        thread = thread_dict(thread_id, guild_id, parent_id, name, owner_id=owner_id)
        guild.threads[thread_id] = thread
        self.channel_guild[thread_id] = guild_id
        self.channels.setdefault(thread_id, {})
        return thread

    def dm_channel(self, user_id: int) -> JsonDict:
        """The bot's DM with the user, opened on first use (one per user, as on Discord)."""
        for channel in self.dm_channels.values():
            if int(channel["recipients"][0]["id"]) == user_id:
                return channel
        channel_id = self.ids.next()
        channel = dm_channel_dict(channel_id, self.user(user_id, user_id))
        self.dm_channels[channel_id] = channel
        self.channels[channel_id] = {}
        return channel

    def add_member(
        self, guild_id: int, user_id: int, username: str, *, permissions: int, bot: bool = False
    ) -> None:
        user = self.users.setdefault(user_id, user_dict(user_id, username, bot=bot))
        role_id = self.ids.next() if permissions else None
        self.guilds[guild_id].members[user_id] = Member(user, permissions, role_id)

    # Channels.
    def guild_id_of(self, channel_id: int) -> int | None:
        """The channel's guild, None for a DM; 404 Unknown Channel for anything else."""
        if channel_id in self.dm_channels:
            return None
        return self.guild_of(channel_id).id

    def guild_of(self, channel_id: int) -> Guild:
        """The guild of a text channel or thread; a DM is as unknown as a missing channel."""
        if channel_id not in self.channel_guild:
            raise ApiError(404, "Unknown Channel", code=10003)
        return self.guilds[self.channel_guild[channel_id]]

    def channel(self, channel_id: int) -> JsonDict:
        """A text channel's, thread's or DM's payload."""
        if channel_id in self.dm_channels:
            return self.dm_channels[channel_id]
        guild = self.guild_of(channel_id)
        return guild.channels.get(channel_id) or guild.threads[channel_id]

    def dm_recipient(self, channel_id: int) -> JsonDict | None:
        """The other end of a DM channel; None for a guild channel."""
        channel = self.dm_channels.get(channel_id)
        return None if channel is None else self.users[int(channel["recipients"][0]["id"])]

    def user(self, user: JsonDict | int | None, default: int) -> JsonDict:
        if isinstance(user, dict):
            return self.users.setdefault(int(user["id"]), user)
        user_id = default if user is None else user
        return self.users.setdefault(user_id, user_dict(user_id, f"user{user_id}"))

    # Gateway payloads.
    def ready_payload(self, session_id: str, resume_url: str) -> JsonDict:
        guilds = [{"id": str(gid), "unavailable": True} for gid in self.guilds]
        return {
            "v": 10, "user": copy.deepcopy(self.bot), "guilds": guilds,
            "session_id": session_id, "resume_gateway_url": resume_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [], "relationships": [], "presences": [],
            "geo_ordered_rtc_regions": [], "guild_join_requests": [], "shard": [0, 1],
        }  # fmt: skip

    def guild_payloads(self, *, with_members: bool) -> list[JsonDict]:
        """GUILD_CREATEs; without the members intent Discord lists only the bot as member."""
        only = None if with_members else int(self.bot["id"])
        return [copy.deepcopy(guild.create_payload(only)) for guild in self.guilds.values()]

    def members_chunk(self, guild_id: int) -> JsonDict:
        guild = self.guilds[guild_id]
        members = [guild.member_dict(uid) for uid in guild.members]
        return {"guild_id": str(guild_id), "members": members, "chunk_index": 0, "chunk_count": 1}

    # Messages.
    def message(self, channel_id: int, message_id: int | str) -> JsonDict:
        """A message in the channel (not an ephemeral one: see `visible_message`)."""
        self.guild_id_of(channel_id)
        found = self.channels[channel_id].get(int(message_id))
        if found is None:
            raise ApiError(404, "Unknown Message", code=10008)
        return found

    def visible_message(self, channel_id: int, message_id: int | str) -> JsonDict:
        """A message in the channel, or an ephemeral one shown there."""
        found = self.ephemeral.get(int(message_id))
        if found is not None and int(found["channel_id"]) == channel_id:
            return found
        return self.message(channel_id, message_id)

    def store(self, message: JsonDict) -> JsonDict:
        """Keep a new message: in its channel, or apart when flagged ephemeral."""
        if int(message.get("flags") or 0) & EPHEMERAL:
            self.ephemeral[int(message["id"])] = message
        else:
            self.channels[int(message["channel_id"])][int(message["id"])] = message
        return message

    def remove(self, message: JsonDict) -> None:
        self.ephemeral.pop(int(message["id"]), None)
        self.channels[int(message["channel_id"])].pop(int(message["id"]), None)

    def new_message(self, channel_id: int, author: JsonDict, content: str) -> JsonDict:
        """A message not yet stored: with guild_id and the author's member in a guild, neither
        in a DM."""
        guild_id = self.guild_id_of(channel_id)
        message = message_dict(self.ids.next(), channel_id, guild_id, author, content)
        guild = None if guild_id is None else self.guilds[guild_id]
        if guild is not None and int(author["id"]) in guild.members:
            message["member"] = guild.member_dict(int(author["id"]), with_user=False)
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

    def attach(self, filename: str, data: bytes) -> JsonDict:
        """A file a user attached, stored and served at its url."""
        return self.attachment(upload(filename, data))

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
    def by_token(self, token: str) -> Interaction:
        for interaction in self.interactions.values():
            if interaction.token == token:
                return interaction
        raise ApiError(404, "Unknown Webhook", code=10015)


def upload(filename: str, data: bytes) -> Upload:
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return Upload(filename, data, guessed)


def _reference(message_id: int | None) -> JsonDict | None:
    return None if message_id is None else {"message_id": str(message_id)}


def edited(message: JsonDict) -> JsonDict:
    message["edited_timestamp"] = now_iso()
    return message
