"""An API key typed into a Discord chat goes nowhere: not to the model, not into the
history, and off the screen."""

from __future__ import annotations

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.platforms.discord.helpers import TIMEOUT, bot_messages, chat_requests, finished

pytestmark = pytest.mark.slow


def test_a_key_sent_to_the_bot_is_deleted_and_never_reaches_the_model(
    discord_fake: FakeDiscord, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    fake = discord_fake
    key = "sk-" + "Q" * 40
    sent = fake.user_message(CHANNEL_ID, f"here is my key {key}", mentions_bot=True)
    [note] = fake.wait_for_sync(lambda: bot_messages(fake, CHANNEL_ID), timeout=TIMEOUT)
    assert "looked like an API key" in note["content"]
    assert "deleted" in note["content"]
    assert all(m["id"] != sent["id"] for m in fake.messages(CHANNEL_ID, include_users=True))
    fake.user_message(CHANNEL_ID, "and now?", mentions_bot=True)
    fake.wait_for_sync(
        lambda: (
            (found := bot_messages(fake, CHANNEL_ID)) and len(found) == 2 and finished(found[1])
        ),
        timeout=TIMEOUT,
    )
    [request] = chat_requests(endpoint)
    assert key not in str(request.json)
    assert key not in bot.log
