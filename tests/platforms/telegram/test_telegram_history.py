"""History follows the chat: an edited message changes the stored turn, and a reply to an
older message reaches the model with what it answers."""

from __future__ import annotations

import json

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

CHAT = 5001
TIMEOUT = 30.0


def wait_replies(telegram: FakeTelegram, count: int) -> list[str]:
    telegram.wait_for_sync(lambda: len(telegram.messages(CHAT)) >= count, timeout=TIMEOUT)
    return [str(m["text"]) for m in telegram.messages(CHAT)]


def edit_fetched(telegram: FakeTelegram) -> bool:
    """The bot has confirmed every update (so has the edit) and polls for more."""
    return len(telegram.state.updates) == 0 and telegram.waiting_polls > 0


def last_prompt(endpoint: FakeOpenAI) -> list[dict[str, str]]:
    bodies = [r.json for r in endpoint.requests if r.path == "/v1/chat/completions"]
    return list(bodies[-1]["messages"])


def test_an_edit_changes_what_the_model_reads(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    typo = telegram.user_message(CHAT, "my name is Bbo")
    wait_replies(telegram, 1)
    telegram.edit_user_message(CHAT, typo["message_id"], "my name is Bob")
    # As a person would, ask once the edit is out: the bot takes the updates of one poll
    # concurrently, so an edit and a message in the same batch race each other.
    telegram.wait_for_sync(lambda: edit_fetched(telegram), timeout=TIMEOUT)
    telegram.user_message(CHAT, "what is my name?")
    telegram.wait_for_sync(
        lambda: telegram.messages(CHAT)[-1]["text"] == "You said: what is my name?",
        timeout=TIMEOUT,
    )
    said = [m["content"] for m in last_prompt(endpoint) if m["role"] == "user"]
    assert said == ["my name is Bob", "what is my name?"]
    assert len(telegram.messages(CHAT)) == 2  # the edit was not answered again


def test_a_reply_to_an_older_message_is_quoted(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    telegram.user_message(CHAT, "first question")
    first = wait_replies(telegram, 1)
    telegram.user_message(CHAT, "second question")
    wait_replies(telegram, 2)
    old = telegram.messages(CHAT)[0]
    telegram.user_message(CHAT, "why that?", reply_to_message_id=old["message_id"])
    replies = wait_replies(telegram, 3)
    quoted = last_prompt(endpoint)[-1]["content"]
    assert quoted == f'[replying to you: "{first[0]}"]\nwhy that?', json.dumps(replies)
