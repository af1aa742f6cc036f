"""/usage on Telegram end to end: the bot in the test process, the real python-telegram-bot
against our fake Bot API, and the fake endpoint, which reports `usage` for every reply
(7 prompt tokens, one completion token per word it streams)."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("away_from_midnight")]

PRIVATE_CHAT = 5001
GROUP_CHAT = -100888
ADMIN, MEMBER = 1001, 1002
TURNS = 20
TIMEOUT = 60.0
KEY = "sk-operator-usage-e2e-0123456789"
FAKE_PROMPT_TOKENS = 7
"""What the fake endpoint reports as every request's prompt tokens."""


@pytest.fixture
def bot_settings(endpoint: FakeOpenAI) -> dict[str, str]:
    """The operator's endpoint wants a key, which must never reach a usage row."""
    endpoint.required_api_key = KEY
    return {"DEFAULT_MODEL": "fake-model", "DEFAULT_API_KEY": KEY}


def texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in telegram.messages(chat_id) if "text" in m]


def said(telegram: FakeTelegram, chat_id: int, text: str, **sender: int) -> str:
    """Send `text` and return the bot's next message in the chat, once it stands whole."""
    before = len(texts(telegram, chat_id))
    telegram.user_message(chat_id, text, **sender)  # type: ignore[arg-type]
    telegram.wait_for_sync(lambda: len(texts(telegram, chat_id)) > before, timeout=TIMEOUT)
    return texts(telegram, chat_id)[before]


def replied(telegram: FakeTelegram, tmp_path: Path, chat_id: int, text: str, **sender: int) -> str:
    """Send `text` and return the bot's reply once it is shown and its usage stored. The
    usage is written after the service's last write of the reply, so a group's message,
    edited as it streams, is whole by then; a private chat's reply becomes a message only
    as its drafts are closed, which may come after."""
    before = len(texts(telegram, chat_id))
    turns = len(usage_rows(tmp_path))
    telegram.user_message(chat_id, text, **sender)  # type: ignore[arg-type]
    recorded(tmp_path, turns + 1)
    telegram.wait_for_sync(lambda: len(texts(telegram, chat_id)) > before, timeout=TIMEOUT)
    return texts(telegram, chat_id)[before]


def recorded(tmp_path: Path, count: int) -> None:
    """Until `count` usage rows are stored: each is written just after its reply's last
    write, which the chat sees first."""
    deadline = time.monotonic() + TIMEOUT
    while len(usage_rows(tmp_path)) < count:
        assert time.monotonic() < deadline, f"fewer than {count} usage rows"
        time.sleep(0.02)  # polls the database, which tells no one when it is written


def words(text: str) -> int:
    """The completion tokens the fake endpoint reports for a reply: its words."""
    return len(text.split(" "))


def usage_rows(tmp_path: Path) -> list[sqlite3.Row]:
    with sqlite3.connect(tmp_path / "data" / "parlor.db") as database:
        database.row_factory = sqlite3.Row
        return database.execute("SELECT * FROM usage ORDER BY id").fetchall()


def test_usage_after_twenty_turns_equals_what_the_endpoint_reported(
    telegram: FakeTelegram, bot: RunningBot, tmp_path: Path
) -> None:
    """/usage in a private chat totals the endpoint's own counts over every turn."""
    replies = [
        replied(telegram, tmp_path, PRIVATE_CHAT, f"message number {turn}") for turn in range(TURNS)
    ]
    assert replies[-1] == f"You said: message number {TURNS - 1}"

    answer = said(telegram, PRIVATE_CHAT, "/usage")

    prompt = FAKE_PROMPT_TOKENS * TURNS
    completion = sum(words(reply) for reply in replies)
    assert f"Today: {TURNS} turns, {prompt:,} prompt + {completion:,} completion tokens" in answer
    assert "UTC" in answer
    assert "stimated" not in answer
    rows = usage_rows(tmp_path)
    assert len(rows) == TURNS
    assert {(row["platform"], row["server_id"], row["trusted"]) for row in rows} == {
        ("telegram", None, 1)
    }
    for row in rows:
        assert not any(KEY in str(value) or "/v1" in str(value) for value in tuple(row))


def test_a_groups_admin_sees_its_usage_by_user_and_a_member_does_not(
    telegram: FakeTelegram, bot: RunningBot, tmp_path: Path
) -> None:
    """In a group the admin's scope:server lists both people and the model; a member's is
    refused; a private chat has no server."""
    telegram.set_member(GROUP_CHAT, ADMIN, "creator")
    telegram.set_member(GROUP_CHAT, MEMBER, "member")
    admins = "@parlor_test_bot hello from the admin"
    first = replied(telegram, tmp_path, GROUP_CHAT, admins, from_user=ADMIN)
    second = replied(telegram, tmp_path, GROUP_CHAT, "@parlor_test_bot hi", from_user=MEMBER)

    refused = said(telegram, GROUP_CHAT, "/usage scope:server", from_user=MEMBER)
    answer = said(telegram, GROUP_CHAT, "/usage scope:server", from_user=ADMIN)
    in_private = said(telegram, ADMIN, "/usage scope:server")

    assert "needs the right to manage" in refused
    assert "2 turns" in answer
    users = answer.split("Top users:")[1].split("Top models:")[0].split()
    assert " ".join(users) == (
        f"• {ADMIN} — 1 turn, 7 + {words(first)} tokens "
        f"• {MEMBER} — 1 turn, 7 + {words(second)} tokens"
    )
    assert answer.endswith(
        f"Top models:\n• fake-model — 2 turns, 14 + {words(first) + words(second)} tokens"
    )
    assert "no server" in in_private
