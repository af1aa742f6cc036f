"""Files attached to a message on Discord: text files are read into what the model gets;
a binary file, or one too large to read, is refused in one line and nothing is sent."""

from __future__ import annotations

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.helpers import chat_requests, post_containing, replies_finished

pytestmark = pytest.mark.slow


def test_attachments_are_read_as_text_or_refused(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """Two text files reach the model fenced under their names; the others never do."""
    files = [("notes.md", b"# Plan\n"), ("main.rs", b"fn main() {}\n")]
    discord_fake.user_message(CHANNEL_ID, "review", mentions_bot=True, attachments=files)
    replies_finished(discord_fake, CHANNEL_ID, 1)
    (request,) = chat_requests(endpoint)
    assert request.json["messages"][-1]["content"] == (
        "review\n\nnotes.md\n```\n# Plan\n```\n\nmain.rs\n```\nfn main() {}\n```"
    )

    binary = [("data.bin", b"\x00\x01\x02\xff")]
    discord_fake.user_message(CHANNEL_ID, "and this", mentions_bot=True, attachments=binary)
    refused = post_containing(discord_fake, CHANNEL_ID, "data.bin")
    assert refused["content"] == (
        "I can't read data.bin: I take text files and images (PNG, JPEG, WebP, GIF). "
        "Nothing was sent."
    )

    huge = [("huge.log", b"a" * 400_001)]
    discord_fake.user_message(CHANNEL_ID, "", mentions_bot=True, attachments=huge)
    refused = post_containing(discord_fake, CHANNEL_ID, "huge.log")
    assert refused["content"] == (
        "huge.log is 390 KB; I read text files up to 400 KB. Nothing was sent."
    )
    assert len(chat_requests(endpoint)) == 1
