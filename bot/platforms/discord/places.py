"""Where a Discord conversation lives: channels, threads and DMs as ChannelKeys.

A thread is a side conversation of its channel: it uses the channel's settings (its key
names the parent) and keeps its own history. Write budgets follow the same line, since
replies in a thread go out through the parent channel's webhook and share its limit.
"""

from __future__ import annotations

from typing import TypeAlias

import discord

from bot.core.domain import ChannelKey
from bot.platforms.common.access import Wording

PLATFORM = "discord"
WORDING = Wording(
    place="server",
    private="The operator has turned direct messages off for this bot; talk to it in a "
    "server where it is.",
)
"""How a refusal names Discord's places (the DM text keeps DISCORD_ALLOW_DMS's words)."""

Channel: TypeAlias = (
    discord.TextChannel
    | discord.Thread
    | discord.DMChannel
    | discord.VoiceChannel
    | discord.StageChannel
    | discord.PartialMessageable
)
"""Channels the bot can talk in (text in voice and stage channels included)."""


def channel_key(channel: Channel | discord.abc.Snowflake) -> ChannelKey:
    if isinstance(channel, discord.Thread):
        return ChannelKey(PLATFORM, str(channel.id), parent_id=str(channel.parent_id))
    return ChannelKey(PLATFORM, str(channel.id))


def budget_scope(channel: ChannelKey) -> ChannelKey:
    """A thread spends its parent channel's budget."""
    return channel.settings_key


def server_of(channel: Channel) -> str | None:
    """The server whose profiles and characters the channel shares; None in a DM."""
    server = server_id_of(channel)
    return str(server) if server is not None else None


def server_id_of(channel: Channel) -> int | None:
    """The channel's server as the operator's access lists name it; None in a DM."""
    guild = getattr(channel, "guild", None)
    return guild.id if guild is not None else None


def talkable(channel: object) -> Channel | None:
    """The channel, if it is one the bot can send to."""
    kinds = (
        discord.TextChannel,
        discord.Thread,
        discord.DMChannel,
        discord.VoiceChannel,
        discord.StageChannel,
        discord.PartialMessageable,
    )
    return channel if isinstance(channel, kinds) else None
