"""The operator's access lists on Discord: a refused person hears why privately, at most once
per window; the channel sees nothing, and nothing reaches the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fakes.discord.server import ALICE_ID, CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.conftest import running
from tests.platforms.discord.helpers import (
    answer_to,
    bot_messages,
    chat_requests,
    found,
    replies_finished,
)

BOB_ID = 930_000_000_000_000_002
CAROL_ID = 930_000_000_000_000_003
OPERATOR_ID = 930_000_000_000_000_099
OTHER_GUILD_ID = 910_000_000_000_000_002
UNUSED_GUILD_ID = 910_000_000_000_000_003
OTHER_CHANNEL_ID = 920_000_000_000_000_002
EPHEMERAL = 1 << 6
REFUSED_HERE = "This bot isn't available in this server; its operator decides where it runs."
REFUSED_YOU = "This bot isn't available to you; its operator decides who may use it."


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
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """Two mentions from a blocked user within the window: one DM saying why, nothing in
    the channel, no request to the model; Bob, who is not blocked, is answered."""
    fake = discord_fake
    fake.add_member(BOB_ID, "bob")
    settings = bot_settings | {"DISCORD_BLOCKED_USERS": str(ALICE_ID)}
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
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
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """Discord refuses the DM (the user closed DMs): no error in the log, no channel post."""
    fake = discord_fake
    settings = bot_settings | {"DISCORD_BLOCKED_USERS": str(ALICE_ID)}
    route = "POST /channels/{channel_id}/messages"
    with running(
        tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template
    ) as bot:
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
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """Answered in the listed server; in another, the person is told in a DM."""
    fake = discord_fake
    fake.add_guild(OTHER_GUILD_ID, "Elsewhere")
    fake.add_channel(OTHER_CHANNEL_ID, "lobby", guild_id=OTHER_GUILD_ID)
    fake.add_member(ALICE_ID, "alice", guild_id=OTHER_GUILD_ID)
    settings = bot_settings | {"DISCORD_ALLOWED_SERVERS": f"{GUILD_ID}, {UNUSED_GUILD_ID}"}
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
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
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """People talking among themselves in a refused server are not sent DMs."""
    fake = discord_fake
    settings = bot_settings | {
        "DISCORD_BLOCKED_SERVERS": str(GUILD_ID),
        "DISCORD_OPERATOR_IDS": str(BOB_ID),
    }
    fake.add_member(BOB_ID, "bob")
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
        fake.user_message(CHANNEL_ID, "just chatting")
        fake.user_message(CHANNEL_ID, "operator here", mentions_bot=True, author=BOB_ID)
        wait_for_replies(fake, CHANNEL_ID, 1)
    assert dm_texts(fake, ALICE_ID) == []
    assert len(chat_requests(endpoint)) == 1


def test_slash_commands_buttons_and_autocomplete_of_a_refused_user_are_answered_privately(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """A slash command and a button press get the reason ephemerally (every time: an
    interaction must be answered); autocomplete offers nothing; the model is never asked."""
    fake = discord_fake
    fake.add_member(BOB_ID, "bob")
    # Ids separated by spaces, as by commas.
    settings = bot_settings | {"DISCORD_BLOCKED_USERS": f"{CAROL_ID} {BOB_ID}"}
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
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


def test_with_direct_messages_off_a_dm_is_refused_once_and_an_operator_still_answered(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """DISCORD_ALLOW_DMS=false: one note in the DM per window; an operator is still answered
    in theirs."""
    fake = discord_fake
    settings = bot_settings | {
        "DISCORD_ALLOW_DMS": "false",
        "DISCORD_OPERATOR_IDS": str(OPERATOR_ID),
    }
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
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
