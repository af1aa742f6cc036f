"""How the Discord client is built from the operator's settings."""

from __future__ import annotations

from collections.abc import Iterator

import discord
import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.platforms.discord.client import (
    DISCORD_API_URL,
    DISCORD_GATEWAY_URL,
    Shards,
    make_client,
    point_at,
)


@pytest.fixture(autouse=True)
def _restore_addresses() -> Iterator[None]:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    yield
    Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY = base, gateway


async def test_one_process_runs_every_shard_or_its_share() -> None:
    alone = make_client(Shards(), message_content=True, ready_timeout=2.0)
    assert not isinstance(alone, discord.AutoShardedClient)
    assert alone.shard_count is None
    one = make_client(Shards(4, (2,)), message_content=True, ready_timeout=2.0)
    assert (one.shard_id, one.shard_count) == (2, 4)
    several = make_client(Shards(4, (0, 3)), message_content=True, ready_timeout=2.0)
    assert isinstance(several, discord.AutoShardedClient)
    assert (several.shard_ids, several.shard_count) == ([0, 3], 4)
    every = make_client(Shards(2), message_content=False, ready_timeout=2.0)
    assert isinstance(every, discord.AutoShardedClient)
    assert every.shard_ids is None
    assert every.shard_count == 2
    assert not every.intents.message_content
    assert alone.intents.message_content
    assert alone.intents.dm_messages
    assert not alone.intents.members
    assert not alone.intents.presences
    assert alone.allowed_mentions is not None
    mentions = alone.allowed_mentions
    assert (mentions.everyone, mentions.users, mentions.roles) == (False, False, False)


def test_proxies_replace_discords_addresses_and_unset_ones_restore_them() -> None:
    point_at("http://nirn:8080/api/v10/", "ws://gateway-proxy:7878")
    assert Route.BASE == "http://nirn:8080/api/v10"
    assert yarl.URL("ws://gateway-proxy:7878") == DiscordWebSocket.DEFAULT_GATEWAY
    point_at(None, None)
    assert Route.BASE == DISCORD_API_URL
    assert yarl.URL(DISCORD_GATEWAY_URL) == DiscordWebSocket.DEFAULT_GATEWAY
