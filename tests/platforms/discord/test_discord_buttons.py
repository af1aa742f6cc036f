"""Who may change a channel, and the buttons under replies (also after a restart)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.discord.wire import MANAGE_CHANNELS, MANAGE_GUILD
from tests.fakes.openai.server import FENCED_REPLY, FakeOpenAI
from tests.platforms.discord.conftest import running
from tests.platforms.discord.helpers import (
    TIMEOUT,
    Message,
    answer_to,
    bot_messages,
    chat_requests,
    finished,
    found,
    labels,
    last_finished,
    post_containing,
    slash,
)

pytestmark = pytest.mark.slow

FENCE = "```"


def chats(endpoint: FakeOpenAI) -> list[str]:
    """The path of each chat request the endpoint received."""
    return [r.path for r in chat_requests(endpoint)]


def last_reply(fake: FakeDiscord) -> Message:
    return last_finished(fake, CHANNEL_ID)


def test_a_member_cannot_change_the_connection_even_if_the_command_is_opened_to_them(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """Server admins may open /connect to everyone in Integrations (our fake delivers the
    command whatever its default permissions): the bot still refuses, form and all."""
    fake = discord_fake
    [connect] = [c for c in fake.commands() if c["name"] == "connect"]
    assert int(connect["default_member_permissions"]) == MANAGE_GUILD
    elsewhere = "http://127.0.0.1:9/v1"
    for permissions in (0, MANAGE_CHANNELS):
        answer = slash(
            fake, CHANNEL_ID, "connect", {"base_url": elsewhere}, permissions=permissions
        )
        assert "needs the right to manage the server" in answer
    asked = fake.slash_command(
        CHANNEL_ID, "connect", {"base_url": elsewhere, "api_key": True}, member_permissions=0
    )
    assert "needs the right to manage the server" in answer_to(fake, asked)
    assert fake.modal_of(asked["id"]) is None, "no key form for someone who may not use it"
    settings = slash(fake, CHANNEL_ID, "settings", permissions=0)
    assert elsewhere not in settings
    fake.user_message(CHANNEL_ID, "still there?", mentions_bot=True)
    assert last_reply(fake)["content"] == "You said: still there?"
    assert chats(endpoint) == ["/v1/chat/completions"]


def test_a_reply_past_2000_characters_continues_without_breaking_the_code_block(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    fake = discord_fake
    slash(fake, CHANNEL_ID, "model", {"name": "scenario/fenced"}, permissions=MANAGE_CHANNELS)
    fake.user_message(CHANNEL_ID, "show me the code", mentions_bot=True)
    last_reply(fake)
    parts = [m["content"] for m in bot_messages(fake, CHANNEL_ID)]
    assert len(parts) == 2
    assert all(len(part) <= 2000 for part in parts)
    for part in parts:  # each message opens and closes its own fence
        assert sum(line.startswith(FENCE) for line in part.splitlines()) % 2 == 0, part

    def code(text: str) -> list[str]:
        return [line for line in text.splitlines() if line and not line.startswith(FENCE)]

    assert code("\n".join(parts)) == code(FENCED_REPLY)
    assert fake.rate_limited == []


def test_stop_ends_a_reply_while_it_streams(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    fake = discord_fake
    slash(fake, CHANNEL_ID, "model", {"name": "scenario/slow"}, permissions=MANAGE_CHANNELS)
    fake.user_message(CHANNEL_ID, "go on forever", mentions_bot=True)
    streaming = post_containing(fake, CHANNEL_ID, "t000002")
    assert "■ Stop" in labels(streaming)
    fake.press_button(CHANNEL_ID, streaming["id"], "p1:stop")
    fake.wait_for_sync(lambda: endpoint.closed_early >= 1, timeout=TIMEOUT)
    stopped = found(
        fake, lambda: m if finished(m := fake.message(CHANNEL_ID, streaming["id"])) else None
    )
    assert "■ Stop" not in labels(stopped), "Stop leaves; what was written can be regenerated"
    assert stopped["content"].startswith("t000001")


def test_regenerate_and_swipes_work_after_a_restart(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """The buttons are persistent: a reply written before a restart can be regenerated
    after it, and the arrows move between the kept versions."""
    fake = discord_fake
    settings = {**bot_settings, "DEFAULT_MODEL": "scenario/numbered"}
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
        fake.user_message(CHANNEL_ID, "tell me something", mentions_bot=True)
        first = last_reply(fake)
        assert first["content"] == "Reply number 1."
    with running(tmp_path, endpoint, fake, settings, encryption_key, template=migrated_template):
        fake.press_button(CHANNEL_ID, first["id"], "p1:regen")
        second = last_finished(fake, CHANNEL_ID, count=2)
        assert second["content"] == "Reply number 2."
        fake.press_button(CHANNEL_ID, second["id"], "p1:prev")
        fake.wait_for_sync(
            lambda: fake.message(CHANNEL_ID, second["id"])["content"] == "Reply number 1.\n*(1/2)*",
            timeout=TIMEOUT,
        )
        fake.press_button(CHANNEL_ID, second["id"], "p1:next")
        fake.wait_for_sync(
            lambda: fake.message(CHANNEL_ID, second["id"])["content"] == "Reply number 2.\n*(2/2)*",
            timeout=TIMEOUT,
        )
        old = fake.press_button(CHANNEL_ID, first["id"], "p1:regen")
        assert "latest reply" in answer_to(fake, old)
    assert len(chats(endpoint)) == 2


def test_a_reply_deleted_while_it_streams_carries_on_in_a_new_message(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """A moderator deletes the message being written: the rest of the reply is not lost,
    it continues in a new message."""
    fake = discord_fake
    slash(fake, CHANNEL_ID, "model", {"name": "scenario/slow"}, permissions=MANAGE_CHANNELS)
    fake.user_message(CHANNEL_ID, "go on", mentions_bot=True)

    first = post_containing(fake, CHANNEL_ID, "t000002")
    fake.delete_user_message(CHANNEL_ID, first["id"])
    second = post_containing(fake, CHANNEL_ID, "t000010")
    assert second["id"] != first["id"]
    fake.press_button(CHANNEL_ID, second["id"], "p1:stop")
    stopped = last_finished(fake, CHANNEL_ID)
    assert stopped["id"] == second["id"]
    assert stopped["content"].startswith("t000001")
    assert "Traceback" not in bot.log
