"""Two processes, each running one of the bot's two Discord shards, against the simulated
Discord, which routes each guild's events to shard (guild_id >> 22) % 2 and DMs to shard 0:
each guild is answered once, by its own shard's process, and the commands are published
once, by shard 0's."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.bot_process import BotProcess, running_bot
from tests.fakes.bot_thread import wait_for_start
from tests.fakes.discord.events import ALICE_ID, CHANNEL_ID, GUILD_ID
from tests.fakes.discord.gateway import owns
from tests.fakes.discord.server import FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.conftest import STARTUP_SECONDS, discord_env, started
from tests.platforms.discord.helpers import bot_messages, last_finished

pytestmark = pytest.mark.slow

SYNC = "PUT /applications/{application_id}/commands"
OTHER_GUILD = GUILD_ID + (1 << 22)  # the next shard's
OTHER_CHANNEL = CHANNEL_ID + 7


def shard_env(
    tmp_path: Path, endpoint: FakeOpenAI, fake: FakeDiscord, key: str, shard: int
) -> dict[str, str]:
    """Shard `shard` of two; both processes on one database, as they would be deployed."""
    settings = {
        "DEFAULT_MODEL": "fake-model",
        "DISCORD_SHARD_COUNT": "2",
        "DISCORD_SHARD_IDS": str(shard),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}",
    }
    workdir = tmp_path / f"shard{shard}"
    workdir.mkdir()
    return discord_env(workdir, endpoint, fake, settings, key)


@contextlib.contextmanager
def second_shard(tmp_path: Path, env: dict[str, str], fake: FakeDiscord) -> Iterator[BotProcess]:
    """Shard 1's process, back once it is connected (it publishes nothing to wait for)."""
    with running_bot(tmp_path / "shard1", env) as process:
        wait_for_start(
            fake, process, lambda: "discord: connected as" in process.log, STARTUP_SECONDS
        )
        yield process
    assert process.stop() == 0, process.log
    assert "Traceback" not in process.log, process.log


def turns_in(log: str, channel_id: int) -> int:
    return sum(
        1 for line in log.splitlines() if "turn channel=" in line and str(channel_id) in line
    )


def test_the_fake_routes_guilds_by_shard_and_dms_to_shard_zero() -> None:
    """Discord's documented routing, which the test below relies on."""
    assert owns((0, 2), GUILD_ID)
    assert owns((1, 2), OTHER_GUILD)
    assert not owns((0, 2), OTHER_GUILD)
    assert owns((0, 2), None)
    assert not owns((1, 2), None)
    assert owns((0, 1), OTHER_GUILD)


def test_two_shard_processes_each_answer_their_own_guild_once(
    tmp_path: Path, endpoint: FakeOpenAI, discord_fake: FakeDiscord, encryption_key: str
) -> None:
    """A mention in each guild and a DM: one answer each, from the owning shard's process;
    the slash commands were published once."""
    discord_fake.add_guild(OTHER_GUILD, "Second server")
    discord_fake.add_channel(OTHER_CHANNEL, "general", guild_id=OTHER_GUILD)
    discord_fake.add_member(ALICE_ID, "alice", guild_id=OTHER_GUILD)
    dm = discord_fake.dm_channel(ALICE_ID)
    env0 = shard_env(tmp_path, endpoint, discord_fake, encryption_key, 0)
    env1 = shard_env(tmp_path, endpoint, discord_fake, encryption_key, 1)

    with (
        started(discord_fake, running_bot(tmp_path / "shard0", env0)) as first,
        second_shard(tmp_path, env1, discord_fake) as second,
    ):
        discord_fake.user_message(CHANNEL_ID, "hello shard zero", mentions_bot=True)
        discord_fake.user_message(OTHER_CHANNEL, "hello shard one", mentions_bot=True)
        discord_fake.user_message(dm, "hello in private")
        replies = {
            channel: last_finished(discord_fake, channel)["content"]
            for channel in (CHANNEL_ID, OTHER_CHANNEL, dm)
        }
        logs = first.log, second.log

    assert replies == {
        CHANNEL_ID: "You said: hello shard zero",
        OTHER_CHANNEL: "You said: hello shard one",
        dm: "You said: hello in private",
    }
    assert [len(bot_messages(discord_fake, c)) for c in (CHANNEL_ID, OTHER_CHANNEL, dm)] == [
        1,
        1,
        1,
    ]
    assert [turns_in(log, CHANNEL_ID) for log in logs] == [1, 0]
    assert [turns_in(log, OTHER_CHANNEL) for log in logs] == [0, 1]
    assert [turns_in(log, dm) for log in logs] == [1, 0]
    assert len(discord_fake.calls_to(SYNC)) == 1
    identified = sorted(s.d["shard"] for s in discord_fake.gateway_frames if s.op == 2)
    assert identified == [[0, 2], [1, 2]]
