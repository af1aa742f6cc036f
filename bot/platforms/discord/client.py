"""Building discord.py's client for Parlor: where it connects, which intents, which shards.

discord.py keeps its REST base and gateway address as class attributes (`Route.BASE`,
`DiscordWebSocket.DEFAULT_GATEWAY`, webhooks included) and offers no parameter for them;
pointing them elsewhere is how an operator puts a rate-limit proxy in front of Discord, and
how tests reach a simulated Discord. They are process-wide (a process runs one Discord
bot), so the composition root sets them once, with `configure_discord_py`, never an
adapter.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

DISCORD_API_URL = "https://discord.com/api/v10"
DISCORD_GATEWAY_URL = "wss://gateway.discord.gg/"


@dataclass(frozen=True, slots=True)
class Shards:
    """Which of the bot's shards this process runs; `count` None: one, unsharded."""

    count: int | None = None
    ids: tuple[int, ...] = ()


def configure_discord_py(*, api_url: str | None, gateway_url: str | None) -> None:
    """discord.py's process-wide settings, which it offers only as class attributes: where
    it connects (`point_at`), and no warnings about voice libraries, since Parlor never
    joins voice (discord.py warns once per process, at the first client)."""
    point_at(api_url, gateway_url)
    discord.VoiceClient.warn_nacl = discord.VoiceClient.warn_dave = False


def point_at(api_url: str | None, gateway_url: str | None) -> None:
    """Send REST calls to `api_url` and open the gateway at `gateway_url` (None: Discord's)."""
    Route.BASE = (api_url or DISCORD_API_URL).rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url or DISCORD_GATEWAY_URL)


def intents(*, message_content: bool) -> discord.Intents:
    """What the bot reads: servers, channel and DM messages. Message content is privileged:
    without it Discord still shows us mentions of the bot and DMs, which is enough unless a
    channel answers every message (or people reply to the bot without pinging it)."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = message_content
    return wanted


def make_client(shards: Shards, *, message_content: bool, ready_timeout: float) -> discord.Client:
    """A plain client for one shard or none; a sharded one for several. A count is always
    given when sharded, so discord.py never asks Discord how many shards to run.

    `allowed_mentions` none is the default for every message: model output that says
    @everyone, or names a user or role, pings nobody."""
    wanted = intents(message_content=message_content)
    mentions = discord.AllowedMentions.none()
    if shards.count is None:
        return discord.Client(
            intents=wanted, guild_ready_timeout=ready_timeout, allowed_mentions=mentions
        )
    if len(shards.ids) == 1:
        return discord.Client(
            intents=wanted,
            guild_ready_timeout=ready_timeout,
            allowed_mentions=mentions,
            shard_id=shards.ids[0],
            shard_count=shards.count,
        )
    if not shards.ids:  # this process runs them all
        return discord.AutoShardedClient(
            intents=wanted,
            guild_ready_timeout=ready_timeout,
            allowed_mentions=mentions,
            shard_count=shards.count,
        )
    return discord.AutoShardedClient(
        intents=wanted,
        guild_ready_timeout=ready_timeout,
        allowed_mentions=mentions,
        shard_count=shards.count,
        shard_ids=list(shards.ids),
    )
