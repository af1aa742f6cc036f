"""Discord's JSON shapes as the fake server writes them: users, guilds, channels, messages.

Builds plain dicts with the fields discord.py reads unconditionally; knows nothing of HTTP.
"""

from __future__ import annotations

import datetime as dtm
import itertools
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]

DISCORD_MAX_CHARS = 2000
ADMINISTRATOR = 1 << 3
MANAGE_CHANNELS = 1 << 4
MANAGE_GUILD = 1 << 5
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
READ_MESSAGE_HISTORY = 1 << 16
MANAGE_WEBHOOKS = 1 << 29
# What @everyone may do in a fresh server, roughly: read, write, attach, react.
EVERYONE_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | READ_MESSAGE_HISTORY | (1 << 15) | (1 << 6)
EPHEMERAL = 1 << 6
TEXT_CHANNEL = 0
DM_CHANNEL = 1
PUBLIC_THREAD = 11
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024


class ApiError(Exception):
    """An error answer: HTTP status and Discord's JSON error body."""

    def __init__(self, status: int, message: str, *, code: int = 0, errors: JsonDict | None = None):
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.code, self.errors = status, message, code, errors

    def payload(self) -> JsonDict:
        body: JsonDict = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def too_long(field_name: str, limit: int = DISCORD_MAX_CHARS) -> ApiError:
    """What Discord answers to content over its limit (code 50035, Invalid Form Body)."""
    error = {"code": "BASE_TYPE_MAX_LENGTH", "message": f"Must be {limit} or fewer in length."}
    return ApiError(400, "Invalid Form Body", code=50035, errors={field_name: {"_errors": [error]}})


def now_iso() -> str:
    return dtm.datetime.now(dtm.UTC).isoformat()


def user_dict(user_id: int, username: str, *, bot: bool = False) -> JsonDict:
    return {
        "id": str(user_id), "username": username, "global_name": None, "discriminator": "0",
        "avatar": None, "bot": bot, "public_flags": 0, "flags": 0,
    }  # fmt: skip


@dataclass(slots=True)
class Member:
    """A user in a guild; `permissions` is the bitfield its own role grants."""

    user: JsonDict
    permissions: int = 0
    role_id: int | None = None


@dataclass(slots=True)
class Guild:
    """A configured guild: @everyone's role id is the guild's id, as on Discord."""

    id: int
    name: str
    owner_id: int
    everyone_permissions: int = EVERYONE_PERMISSIONS
    channels: dict[int, JsonDict] = field(default_factory=dict)
    threads: dict[int, JsonDict] = field(default_factory=dict)
    members: dict[int, Member] = field(default_factory=dict)

    def roles(self) -> list[JsonDict]:
        roles = [role_dict(self.id, "@everyone", self.everyone_permissions, 0)]
        for position, member in enumerate(self.members.values(), start=1):
            if member.role_id is not None:
                name = f"{member.user['username']} role"
                roles.append(role_dict(member.role_id, name, member.permissions, position))
        return roles

    def member_dict(self, user_id: int, *, with_user: bool = True) -> JsonDict:
        member = self.members[user_id]
        payload: JsonDict = {
            "roles": [] if member.role_id is None else [str(member.role_id)],
            "joined_at": "2024-01-01T00:00:00+00:00", "deaf": False, "mute": False,
            "flags": 0, "pending": False, "nick": None,
        }  # fmt: skip
        if with_user:
            payload["user"] = member.user
        return payload

    def permissions_of(self, user_id: int) -> int:
        """A member's guild-level permissions, as Discord sends them in an interaction."""
        if user_id == self.owner_id:
            return (1 << 53) - 1
        member = self.members.get(user_id)
        return self.everyone_permissions | (member.permissions if member else 0)

    def create_payload(self, only_member: int | None = None) -> JsonDict:
        """GUILD_CREATE: everything discord.py needs to compute permissions offline."""
        listed = [uid for uid in self.members if only_member in (None, uid)]
        return {
            "id": str(self.id), "name": self.name, "icon": None, "owner_id": str(self.owner_id),
            "unavailable": False, "member_count": len(self.members), "large": False,
            "features": [], "emojis": [], "stickers": [], "roles": self.roles(),
            "channels": list(self.channels.values()), "threads": list(self.threads.values()),
            "voice_states": [], "presences": [], "stage_instances": [], "soundboard_sounds": [],
            "guild_scheduled_events": [], "members": [self.member_dict(uid) for uid in listed],
            "joined_at": "2024-01-01T00:00:00+00:00", "preferred_locale": "en-US",
            "premium_tier": 0, "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0, "afk_timeout": 300,
            "system_channel_flags": 0, "application_id": None, "lazy": True,
        }  # fmt: skip


def role_dict(role_id: int, name: str, permissions: int, position: int) -> JsonDict:
    return {
        "id": str(role_id), "name": name, "permissions": str(permissions), "position": position,
        "color": 0, "colors": {"primary_color": 0}, "hoist": False, "managed": False,
        "mentionable": False, "flags": 0, "icon": None, "unicode_emoji": None,
    }  # fmt: skip


def channel_dict(channel_id: int, guild_id: int, name: str, position: int) -> JsonDict:
    return {
        "id": str(channel_id), "guild_id": str(guild_id), "name": name, "type": TEXT_CHANNEL,
        "position": position, "permission_overwrites": [], "nsfw": False, "topic": None,
        "parent_id": None, "last_message_id": None, "rate_limit_per_user": 0, "flags": 0,
    }  # fmt: skip


def thread_dict(
    thread_id: int, guild_id: int, parent_id: int, name: str, *, owner_id: int
) -> JsonDict:
    """An active public thread, with the metadata discord.py's Thread reads unconditionally."""
    created = now_iso()
    metadata = {
        "archived": False, "auto_archive_duration": 1440, "archive_timestamp": created,
        "locked": False, "create_timestamp": created,
    }  # fmt: skip
    return {
        "id": str(thread_id), "guild_id": str(guild_id), "parent_id": str(parent_id),
        "owner_id": str(owner_id), "name": name, "type": PUBLIC_THREAD, "flags": 0,
        "last_message_id": None, "message_count": 0, "member_count": 1,
        "total_message_sent": 0, "rate_limit_per_user": 0, "thread_metadata": metadata,
    }  # fmt: skip


def dm_channel_dict(channel_id: int, recipient: JsonDict) -> JsonDict:
    """The bot's DM with one user, as POST /users/@me/channels answers it."""
    return {
        "id": str(channel_id), "type": DM_CHANNEL, "last_message_id": None, "flags": 0,
        "recipients": [recipient],
    }  # fmt: skip


class Snowflakes:
    """Increasing ids shaped like Discord's (a timestamp in the high bits), unique per fake."""

    EPOCH_MS = 1_420_070_400_000

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self) -> int:
        now_ms = int(dtm.datetime.now(dtm.UTC).timestamp() * 1000)
        return ((now_ms - self.EPOCH_MS) << 22) | (next(self._counter) & 0x3FFFFF)


def message_dict(
    message_id: int, channel_id: int, guild_id: int | None, author: JsonDict, content: str
) -> JsonDict:
    """A fresh message with every list discord.py iterates present and empty."""
    payload: JsonDict = {
        "id": str(message_id), "channel_id": str(channel_id), "author": author,
        "content": content, "timestamp": now_iso(), "edited_timestamp": None, "tts": False,
        "mention_everyone": False, "mentions": [], "mention_roles": [], "attachments": [],
        "embeds": [], "components": [], "pinned": False, "type": 0, "flags": 0,
    }  # fmt: skip
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
    return payload


def check_content(body: JsonDict) -> None:
    """Discord's form checks that a bot is likely to trip: content length, an empty message."""
    content = body.get("content")
    if isinstance(content, str) and len(content) > DISCORD_MAX_CHARS:
        raise too_long("content")
    if not any(body.get(key) for key in ("content", "embeds", "attachments", "components")):
        raise ApiError(400, "Cannot send an empty message", code=50006)
