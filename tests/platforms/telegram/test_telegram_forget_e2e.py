"""/forget on Telegram end to end: the bot in the test process, the real python-telegram-bot
against the fake Bot API, the fake endpoint, and the SQLite file searched afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from bot.platforms.telegram.adapter import SENT_PRIVATELY
from bot.service import confirmations
from bot.service.commands.forget import EXPIRED, MARKER, SOMEONE_ELSE
from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

GROUP = -100777
USER = 738291042  # distinctive, so a byte search cannot find it by chance
OTHER = 1002
SECRET = "quokka-under-the-stairs"
TIMEOUT = 60.0


@pytest.fixture
def bot_settings() -> dict[str, str]:
    return {"DEFAULT_MODEL": "scenario/numbered"}  # replies never repeat what was said


def texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [str(m.get("text", "")) for m in telegram.messages(chat_id)]


def said(telegram: FakeTelegram, chat_id: int, text: str, *, user: int) -> dict[str, Any]:
    """Send `text` and return the bot's next message in the chat, once it stands whole."""
    before = len(telegram.messages(chat_id))
    telegram.user_message(chat_id, text, from_user=user)
    telegram.wait_for_sync(lambda: _whole(telegram, chat_id, before), timeout=TIMEOUT)
    return telegram.messages(chat_id)[before]


def _whole(telegram: FakeTelegram, chat_id: int, before: int) -> bool:
    messages = telegram.messages(chat_id)
    return len(messages) > before and not str(messages[before].get("text", "")).endswith("…")


def press(telegram: FakeTelegram, chat_id: int, message: dict[str, Any], *, user: int) -> str:
    """Press the message's one button as `user`; the toast the bot answered with."""
    rows = message["reply_markup"]["inline_keyboard"]
    data = rows[0][0]["callback_data"]
    assert data.startswith("c1:forget:")
    assert len(data.encode()) <= 64
    query = telegram.press_button(chat_id, message["message_id"], data, from_user=user)
    telegram.wait_for_sync(
        lambda: telegram.callback_answer(query["id"]) is not None, timeout=TIMEOUT
    )
    answer = telegram.callback_answer(query["id"]) or {}
    return str(answer.get("text", ""))


def shown(telegram: FakeTelegram, chat_id: int, message_id: int, starts: str) -> dict[str, Any]:
    """The message once its text starts with `starts`."""

    def now() -> dict[str, Any]:
        return telegram.message(chat_id, message_id) or {}

    telegram.wait_for_sync(lambda: str(now().get("text", "")).startswith(starts), timeout=TIMEOUT)
    return now()


def database(tmp_path: Path) -> Path:
    return tmp_path / "data" / "parlor.db"


def every_value(tmp_path: Path) -> str:
    """Every row of every table, as text."""
    with sqlite3.connect(database(tmp_path)) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = [repr(row) for table in tables for row in db.execute(f'SELECT * FROM "{table}"')]
    return "\n".join(rows)


def file_bytes(tmp_path: Path) -> bytes:
    path = database(tmp_path)
    files = [path, path.with_name(path.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())


def chatted(telegram: FakeTelegram) -> None:
    """The person writes in a group and privately and sets a persona; someone else writes."""
    telegram.set_member(GROUP, OTHER, "member")
    said(telegram, GROUP, f"@parlor_test_bot my {SECRET} in the group", user=USER)
    said(telegram, GROUP, "@parlor_test_bot hello from someone else", user=OTHER)
    said(telegram, USER, f"my {SECRET} in private", user=USER)
    said(telegram, USER, "/persona name:Quokka description:lives under the stairs", user=USER)


def test_forget_me_erases_everything_of_theirs_and_keeps_the_conversation(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot, tmp_path: Path
) -> None:
    """Asked in a group, the prompt goes to the person's private chat; their press erases
    their messages (the marker in their place), private chat, persona and usage, and says
    so in the prompt's place; no row and no byte of the file keeps their id or text; the
    group's next prompt reads the marker beside the other person's message."""
    chatted(telegram)
    assert SECRET in every_value(tmp_path)
    before = len(telegram.messages(USER))
    note = said(telegram, GROUP, "/forget target:me", user=USER)
    assert note["text"] == SENT_PRIVATELY
    prompt = telegram.messages(USER)[before]
    assert "can't be undone" in prompt["text"]

    press(telegram, USER, prompt, user=USER)

    done = shown(telegram, USER, prompt["message_id"], "Erased")
    assert done["text"] == (
        "Erased 1 message, your private chat with me (2 messages), your persona and 2 usage rows."
    )
    assert "reply_markup" not in done
    everything = every_value(tmp_path)
    assert str(USER) not in everything
    assert SECRET not in everything
    assert "hello from someone else" in everything
    assert MARKER in everything
    data = file_bytes(tmp_path)
    assert str(USER).encode() not in data
    assert SECRET.encode() not in data

    said(telegram, GROUP, "@parlor_test_bot what did they say?", user=OTHER)
    sent = str(endpoint.requests[-1].json["messages"])
    assert MARKER in sent
    assert "hello from someone else" in sent
    assert SECRET not in sent


def test_in_a_group_without_a_private_chat_only_the_asker_may_press(
    telegram: FakeTelegram, bot: RunningBot, tmp_path: Path
) -> None:
    """Someone who never started the bot privately gets the prompt in the group; anyone
    else's press is refused in a toast and spends nothing; theirs erases."""
    telegram.set_member(GROUP, OTHER, "member")
    said(telegram, GROUP, f"@parlor_test_bot my {SECRET}", user=USER)
    prompt = said(telegram, GROUP, "/forget", user=USER)
    assert "can't be undone" in prompt["text"]

    assert press(telegram, GROUP, prompt, user=OTHER) == SOMEONE_ELSE
    assert SECRET in every_value(tmp_path)
    press(telegram, GROUP, prompt, user=USER)

    done = shown(telegram, GROUP, prompt["message_id"], "Erased")
    assert done["text"] == "Erased 1 message and 1 usage row."
    assert SECRET not in every_value(tmp_path)


def test_an_expired_confirmation_says_so_and_erases_nothing(
    telegram: FakeTelegram, bot: RunningBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A confirmation pressed after its minutes (here: none) says it expired."""
    monkeypatch.setattr(confirmations, "CONFIRM_SECONDS", 0)
    said(telegram, USER, f"my {SECRET}", user=USER)
    prompt = said(telegram, USER, "/forget", user=USER)

    press(telegram, USER, prompt, user=USER)

    assert shown(telegram, USER, prompt["message_id"], "This confirmation")["text"] == EXPIRED
    assert SECRET in every_value(tmp_path)


def test_forget_channel_is_for_the_groups_admins(telegram: FakeTelegram, bot: RunningBot) -> None:
    """A member is refused; an admin's confirmation empties the group's history."""
    telegram.set_member(GROUP, USER, "creator")
    telegram.set_member(GROUP, OTHER, "member")
    said(telegram, GROUP, "@parlor_test_bot first", user=OTHER)

    refused = said(telegram, GROUP, "/forget target:channel", user=OTHER)
    prompt = said(telegram, GROUP, "/forget target:channel", user=USER)

    assert "needs the right to manage this channel" in refused["text"]
    assert "reply_markup" not in refused
    assert "2 messages in 1 chat" in prompt["text"]
    press(telegram, GROUP, prompt, user=USER)
    done = shown(telegram, GROUP, prompt["message_id"], "Erased")
    assert done["text"] == "Erased this channel's history: 2 messages."
    export = said(telegram, GROUP, "/export", user=OTHER)
    assert "nothing to export" in export["text"]


def test_forget_me_drops_a_pending_key_link(telegram: FakeTelegram, bot: RunningBot) -> None:
    """A key link handed out to the person stops working once they erase themselves."""
    telegram.set_member(GROUP, USER, "administrator", can_change_info=True)
    telegram.user_message(GROUP, "/connect base_url:http://10.9.9.9/v1", from_user=USER)
    telegram.wait_for_sync(lambda: "?start=" in " ".join(texts(telegram, GROUP)), timeout=TIMEOUT)
    token = " ".join(texts(telegram, GROUP)).split("?start=")[1].split()[0]
    prompt = said(telegram, USER, "/forget", user=USER)

    press(telegram, USER, prompt, user=USER)

    done = shown(telegram, USER, prompt["message_id"], "Erased")
    assert done["text"] == "Erased your pending key link."
    opened = said(telegram, USER, f"/start {token}", user=USER)
    assert "expired, was used already" in opened["text"]
