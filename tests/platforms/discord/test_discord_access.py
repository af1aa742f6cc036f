"""The operator's access lists on Discord: a refused person hears why privately, at most once
per window; the channel sees nothing, and nothing reaches the model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.app import Parlor
from bot.platforms.common.access import AccessPolicy
from bot.platforms.discord.adapter import DiscordAdapter
from bot.platforms.discord.client import configure_discord_py
from tests.fakes.discord.server import ALICE_ID, CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.adapter_thread import AdapterThread, running_adapter
from tests.platforms.discord.conftest import discord_env, started
from tests.platforms.discord.helpers import (
    answer_to,
    bot_messages,
    chat_requests,
    found,
    replies_finished,
)

BOB_ID = 930_000_000_000_000_002
OPERATOR_ID = 930_000_000_000_000_099
OTHER_GUILD_ID = 910_000_000_000_000_002
OTHER_CHANNEL_ID = 920_000_000_000_000_002
EPHEMERAL = 1 << 6
REFUSED_HERE = "This bot isn't available in this server; its operator decides where it runs."
REFUSED_YOU = "This bot isn't available to you; its operator decides who may use it."


@contextlib.contextmanager
def bot_with(
    policy: AccessPolicy,
    tmp_path: Path,
    endpoint: FakeOpenAI,
    fake: FakeDiscord,
    key: str,
    template: Path,
) -> Iterator[AdapterThread]:
    """The bot on the simulated Discord, its adapter given `policy` (what app.py will pass
    from DISCORD_ALLOWED_SERVERS and the rest)."""

    def build(app: Parlor) -> DiscordAdapter:
        configure_discord_py(api_url=fake.api_url, gateway_url=fake.gateway_url)
        assert app.service is not None
        return DiscordAdapter(app.service, token=fake.token, pacing=app.pacing, access=policy)

    env = discord_env(tmp_path, endpoint, fake, {"DEFAULT_MODEL": "fake-model"}, key)
    with started(fake, running_adapter(tmp_path, env, template, build)) as bot:
        yield bot


def wait_for_replies(fake: FakeDiscord, channel_id: int, count: int) -> list[dict[str, Any]]:
    """The channel's finished replies once there are `count`."""
    return replies_finished(fake, channel_id, count)


def asked(endpoint: FakeOpenAI) -> list[str]:
    """The last user line of each chat request the model received."""
    return [str(r.json["messages"][-1]["content"]) for r in chat_requests(endpoint)]


def dm_texts(fake: FakeDiscord, user_id: int) -> list[str]:
    return [m["content"] for m in bot_messages(fake, fake.dm_channel(user_id))]


def test_a_blocked_user_gets_one_dm_and_no_reply_in_the_channel(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """Two mentions from a blocked user within the window: one DM saying why, nothing in
    the channel, no request to the model; Bob, who is not blocked, is answered."""
    fake = discord_fake
    fake.add_member(BOB_ID, "bob")
    policy = AccessPolicy(blocked_users=frozenset({ALICE_ID}))
    with bot_with(policy, tmp_path, endpoint, fake, encryption_key, migrated_template):
        fake.user_message(CHANNEL_ID, "hello?", mentions_bot=True)
        found(fake, lambda: dm_texts(fake, ALICE_ID) or None)
        fake.user_message(CHANNEL_ID, "hello again?", mentions_bot=True)
        fake.user_message(CHANNEL_ID, "and me?", mentions_bot=True, author=BOB_ID)
        wait_for_replies(fake, CHANNEL_ID, 1)
    assert dm_texts(fake, ALICE_ID) == [REFUSED_YOU]
    [reply] = bot_messages(fake, CHANNEL_ID)
    assert reply["content"] == "You said: and me?"
    assert asked(endpoint) == ["and me?"]


def test_a_closed_dm_is_swallowed_and_the_channel_still_hears_nothing(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """Discord refuses the DM (the user closed DMs): no error in the log, no channel post."""
    fake = discord_fake
    policy = AccessPolicy(blocked_users=frozenset({ALICE_ID}))
    route = "POST /channels/{channel_id}/messages"
    with bot_with(policy, tmp_path, endpoint, fake, encryption_key, migrated_template) as bot:
        fake.fail_next(route, 403, message="Cannot send messages to this user", code=50007)
        fake.user_message(CHANNEL_ID, "hello?", mentions_bot=True)
        found(fake, lambda: [c for c in fake.calls_to(route) if c.status == 403] or None)
    assert bot_messages(fake, CHANNEL_ID) == []
    assert dm_texts(fake, ALICE_ID) == []
    assert chat_requests(endpoint) == []
    assert "ERROR" not in bot.log, bot.log


def test_an_allowed_servers_list_admits_only_those_servers(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """Answered in the listed server; in another, the person is told in a DM."""
    fake = discord_fake
    fake.add_guild(OTHER_GUILD_ID, "Elsewhere")
    fake.add_channel(OTHER_CHANNEL_ID, "lobby", guild_id=OTHER_GUILD_ID)
    fake.add_member(ALICE_ID, "alice", guild_id=OTHER_GUILD_ID)
    policy = AccessPolicy(allowed_places=frozenset({GUILD_ID}))
    with bot_with(policy, tmp_path, endpoint, fake, encryption_key, migrated_template):
        fake.user_message(OTHER_CHANNEL_ID, "over here", mentions_bot=True)
        found(fake, lambda: dm_texts(fake, ALICE_ID) or None)
        fake.user_message(CHANNEL_ID, "in the right place", mentions_bot=True)
        wait_for_replies(fake, CHANNEL_ID, 1)
    assert dm_texts(fake, ALICE_ID) == [REFUSED_HERE]
    assert bot_messages(fake, OTHER_CHANNEL_ID) == []
    assert asked(endpoint) == ["in the right place"]


def test_unaddressed_messages_in_a_blocked_server_are_ignored_without_a_notice(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """People talking among themselves in a refused server are not sent DMs."""
    fake = discord_fake
    policy = AccessPolicy(blocked_places=frozenset({GUILD_ID}), operators=frozenset({BOB_ID}))
    fake.add_member(BOB_ID, "bob")
    with bot_with(policy, tmp_path, endpoint, fake, encryption_key, migrated_template):
        fake.user_message(CHANNEL_ID, "just chatting")
        fake.user_message(CHANNEL_ID, "operator here", mentions_bot=True, author=BOB_ID)
        wait_for_replies(fake, CHANNEL_ID, 1)
    assert dm_texts(fake, ALICE_ID) == []
    assert len(chat_requests(endpoint)) == 1


def test_slash_commands_buttons_and_autocomplete_of_a_refused_user_are_answered_privately(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """A slash command and a button press get the reason ephemerally (every time: an
    interaction must be answered); autocomplete offers nothing; the model is never asked."""
    fake = discord_fake
    fake.add_member(BOB_ID, "bob")
    policy = AccessPolicy(blocked_users=frozenset({BOB_ID}))
    with bot_with(policy, tmp_path, endpoint, fake, encryption_key, migrated_template):
        fake.user_message(CHANNEL_ID, "hi", mentions_bot=True)
        [reply] = replies_finished(fake, CHANNEL_ID, 1)
        for _ in range(2):
            ran = fake.slash_command(CHANNEL_ID, "help", {}, user=BOB_ID)
            assert answer_to(fake, ran) == REFUSED_YOU
            assert all(m["flags"] & EPHEMERAL for m in fake.interaction_messages(ran["id"]))
        pressed = fake.press_button(CHANNEL_ID, reply["id"], "p1:regen", user=BOB_ID)
        assert answer_to(fake, pressed) == REFUSED_YOU
        typed = fake.autocomplete(CHANNEL_ID, "model", "name", "fa", user=BOB_ID)
        choices: list[dict[str, Any]] = found(fake, lambda: fake.autocomplete_choices(typed["id"]))
        assert choices == []
    assert len(chat_requests(endpoint)) == 1, "only Alice's message reached the model"
    assert len(bot_messages(fake, CHANNEL_ID)) == 1
    assert dm_texts(fake, BOB_ID) == []


def test_with_direct_messages_off_in_the_policy_a_dm_is_refused_in_the_dm(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """private_chats=False (DISCORD_ALLOW_DMS=false): one note in the DM per window; an
    operator is still answered in theirs."""
    fake = discord_fake
    policy = AccessPolicy(private_chats=False, operators=frozenset({OPERATOR_ID}))
    with bot_with(policy, tmp_path, endpoint, fake, encryption_key, migrated_template):
        dm = fake.dm_channel(ALICE_ID)
        fake.user_message(dm, "hello in private")
        found(fake, lambda: dm_texts(fake, ALICE_ID) or None)
        fake.user_message(dm, "hello again")
        operator_dm = fake.dm_channel(OPERATOR_ID)
        fake.user_message(operator_dm, "it's me")
        wait_for_replies(fake, operator_dm, 1)
    [note] = dm_texts(fake, ALICE_ID)
    assert "turned direct messages off" in note
    assert asked(endpoint) == ["it's me"]
