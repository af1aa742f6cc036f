"""Chats you keep on Discord: a SillyTavern chat file given to /chats's file option becomes the
channel's conversation, and /chats open:N brings back the one it put away."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.helpers import (
    chat_requests,
    post_containing,
    replies_finished,
    slash,
)

pytestmark = pytest.mark.slow

SAMPLE = Path(__file__).parents[2] / "service" / "chat_samples" / "sillytavern_1_15.jsonl"
MANAGE_CHANNELS = 1 << 4


def test_a_chat_file_is_imported_and_the_one_it_replaced_reopened(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """The file option imports; a member cannot; open:1 makes the replaced chat current
    again, and the model then reads it."""
    fake = discord_fake
    fake.user_message(CHANNEL_ID, "The password is swordfish.", mentions_bot=True)
    replies_finished(fake, CHANNEL_ID, 1)
    upload = ("Seraphina.jsonl", SAMPLE.read_bytes())

    refused = slash(fake, CHANNEL_ID, "chats", {"file": upload}, permissions=0)
    fake.slash_command(CHANNEL_ID, "chats", {"file": upload}, member_permissions=MANAGE_CHANNELS)

    assert refused == "Importing a chat needs the right to manage this channel."
    post_containing(fake, CHANNEL_ID, "Imported 4 messages")  # said to the channel, as /reset
    listing = slash(fake, CHANNEL_ID, "chats", permissions=0)
    assert "1. " in listing
    assert "“The password is swordfish.”" in listing
    fake.slash_command(CHANNEL_ID, "chats", {"open": 1}, member_permissions=MANAGE_CHANNELS)
    post_containing(fake, CHANNEL_ID, "Reopened chat 1: ")
    fake.user_message(CHANNEL_ID, "What was the password?", mentions_bot=True)
    replies_finished(fake, CHANNEL_ID, 2)
    contents = [str(m["content"]) for m in chat_requests(endpoint)[-1].json["messages"]]
    assert any("swordfish" in text for text in contents)
    assert not any("Sit by the fire." in text for text in contents)
