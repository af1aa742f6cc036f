"""History follows the chat: an edited message changes the stored turn, and a reply to an
older message reaches the model with what it answers."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

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


def wait_until_stored(tmp_path: Path, text: str) -> None:
    """Until a user message in the bot's database reads `text`. Fetching an update is not
    handling it: the bot handles a poll's updates concurrently, so the edit's write may
    still be on its way when the next message is taken."""
    deadline = time.monotonic() + TIMEOUT
    while text not in stored_user_texts(tmp_path):
        assert time.monotonic() < deadline, f"no stored message reads {text!r}"
        time.sleep(0.02)  # polls the database, which tells no one when it is written


def stored_user_texts(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "data" / "parlor.db") as database:
        rows = database.execute("SELECT content FROM messages WHERE role = 'user'")
        return [row[0] for row in rows]


def last_prompt(endpoint: FakeOpenAI) -> list[dict[str, str]]:
    bodies = [r.json for r in endpoint.requests if r.path == "/v1/chat/completions"]
    return list(bodies[-1]["messages"])


def test_an_edit_changes_what_the_model_reads(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot, tmp_path: Path
) -> None:
    typo = telegram.user_message(CHAT, "my name is Bbo")
    wait_replies(telegram, 1)
    telegram.edit_user_message(CHAT, typo["message_id"], "my name is Bob")
    # As a person would, ask once the edit is in: an edit and a message sent at the same
    # moment race each other, as they would on Telegram.
    wait_until_stored(tmp_path, "my name is Bob")
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
