"""A server's own /access rules on Discord: its admins keep the bot to some channels and
roles; a member kept out hears why privately, once per window, and nothing reaches the model."""

from __future__ import annotations

from pathlib import Path

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

ADMIN_ID = 930_000_000_000_000_010
BOB_ID = 930_000_000_000_000_011
LOBBY_ID = 920_000_000_000_000_005
THREAD_ID = 920_000_000_000_000_006
MANAGE_GUILD = 1 << 5
SEND_MESSAGES = 1 << 11
EPHEMERAL = 1 << 6
OTHER_CHANNEL = "this isn't one of them"
NO_ROLE = "keep the bot to members with certain roles"


def asked(endpoint: FakeOpenAI) -> list[str]:
    """The last user line of each chat request the model received."""
    return [str(r.json["messages"][-1]["content"]) for r in chat_requests(endpoint)]


def dm_texts(fake: FakeDiscord, user_id: int) -> list[str]:
    return [m["content"] for m in bot_messages(fake, fake.dm_channel(user_id))]


def role_of(fake: FakeDiscord, user_id: int) -> int:
    role = fake.state.guilds[GUILD_ID].members[user_id].role_id
    assert role is not None
    return role


def test_rules_keep_the_bot_to_a_channel_and_then_a_role(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """Kept to #general: Alice asking in #lobby gets one DM saying so (not two), nothing in
    #lobby, no request; she is answered in #general and in its thread; the admin is
    answered anywhere. Then kept to Bob's role: Alice is refused (DM), Bob answered, and
    Alice's slash command is refused ephemerally."""
    fake = discord_fake
    fake.add_channel(LOBBY_ID, "lobby")
    fake.add_thread(CHANNEL_ID, THREAD_ID, "side talk")
    fake.add_member(ADMIN_ID, "admin", permissions=MANAGE_GUILD)
    fake.add_member(BOB_ID, "bob", permissions=SEND_MESSAGES)  # a role that grants no rights
    bob_role = role_of(fake, BOB_ID)
    with running(
        tmp_path, endpoint, fake, bot_settings, encryption_key, template=migrated_template
    ):
        ran = fake.slash_command(
            LOBBY_ID, "access", {"action": "allow", "channel": f"<#{CHANNEL_ID}>"}, user=ADMIN_ID
        )
        answer = answer_to(fake, ran)
        assert f"only in: <#{CHANNEL_ID}>" in answer
        assert "Not here" in answer, "the admin is told the lobby is now shut"

        fake.user_message(LOBBY_ID, "over here?", mentions_bot=True)
        found(fake, lambda: dm_texts(fake, ALICE_ID) or None)
        fake.user_message(LOBBY_ID, "still here?", mentions_bot=True)
        fake.user_message(CHANNEL_ID, "in general", mentions_bot=True)
        replies_finished(fake, CHANNEL_ID, 1)
        fake.user_message(THREAD_ID, "in the thread", mentions_bot=True)
        replies_finished(fake, THREAD_ID, 1)
        fake.user_message(LOBBY_ID, "admin here", mentions_bot=True, author=ADMIN_ID)
        replies_finished(fake, LOBBY_ID, 1)

        ran = fake.slash_command(CHANNEL_ID, "access", {"role": f"<@&{bob_role}>"}, user=ADMIN_ID)
        assert f"<@&{bob_role}>" in answer_to(fake, ran)
        fake.user_message(CHANNEL_ID, "may I?", mentions_bot=True)
        found(fake, lambda: dm_texts(fake, ALICE_ID)[1:] or None)
        fake.user_message(CHANNEL_ID, "bob here", mentions_bot=True, author=BOB_ID)
        replies_finished(fake, CHANNEL_ID, 2)
        ran = fake.slash_command(CHANNEL_ID, "help", {})
        assert NO_ROLE in answer_to(fake, ran)
        assert all(m["flags"] & EPHEMERAL for m in fake.interaction_messages(ran["id"]))

    [kept_to_channel, kept_to_role] = dm_texts(fake, ALICE_ID)
    assert OTHER_CHANNEL in kept_to_channel
    assert NO_ROLE in kept_to_role
    # A second speaker in #general is named in the prompt ("bob: bob here").
    said = ["in general", "in the thread", "admin here", "bob here"]
    lines = asked(endpoint)
    assert len(lines) == len(said), lines
    assert all(line.endswith(text) for line, text in zip(lines, said, strict=True)), lines
    assert len(bot_messages(fake, LOBBY_ID)) == 1, "only the admin's reply is in the lobby"


def test_a_member_cannot_set_rules_and_clearing_them_lets_everyone_back(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """/access by a plain member changes nothing; after the admin's clear, Alice is answered
    in the channel that was shut, and the rules listed are none."""
    fake = discord_fake
    fake.add_channel(LOBBY_ID, "lobby")
    fake.add_member(ADMIN_ID, "admin", permissions=MANAGE_GUILD)
    with running(
        tmp_path, endpoint, fake, bot_settings, encryption_key, template=migrated_template
    ):
        ran = fake.slash_command(CHANNEL_ID, "access", {"channel": "here"})
        assert "manage the server" in answer_to(fake, ran)
        ran = fake.slash_command(CHANNEL_ID, "access", {"channel": "here"}, user=ADMIN_ID)
        assert f"<#{CHANNEL_ID}>" in answer_to(fake, ran)
        fake.user_message(LOBBY_ID, "shut out", mentions_bot=True)
        found(fake, lambda: dm_texts(fake, ALICE_ID) or None)
        ran = fake.slash_command(LOBBY_ID, "access", {"action": "clear"}, user=ADMIN_ID)
        assert answer_to(fake, ran).startswith("Removed 1 rule. No rules")
        fake.user_message(LOBBY_ID, "back in", mentions_bot=True)
        replies_finished(fake, LOBBY_ID, 1)
    assert asked(endpoint) == ["back in"]
