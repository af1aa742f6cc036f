"""Chats you keep on Telegram: a SillyTavern chat file sent with /chats as its caption becomes
the conversation the model reads, /export sends it back, and /chats lists what was put away."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

CHAT = 5001  # a private chat: its user may manage it
TIMEOUT = 30.0
SAMPLE = Path(__file__).parents[2] / "service" / "chat_samples" / "sillytavern_1_15.jsonl"


def nth(telegram: FakeTelegram, count: int) -> dict[str, object]:
    telegram.wait_for_sync(lambda: len(telegram.messages(CHAT)) >= count, timeout=TIMEOUT)
    return telegram.messages(CHAT)[count - 1]


def test_a_chat_file_sent_with_chats_is_carried_on_and_exported(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """Imported with its caption, read by the model at the next message, sent back whole by
    /export, and the chat it replaced listed by /chats."""
    telegram.user_message(CHAT, "Before the import.")
    nth(telegram, 1)
    upload = telegram.add_file(SAMPLE.read_bytes(), "Seraphina - 2026-07-07.jsonl")

    telegram.user_message(CHAT, "/chats", document=upload)

    assert str(nth(telegram, 2).get("text", "")).startswith("Imported 4 messages")
    telegram.user_message(CHAT, "Is the fire warm?")
    nth(telegram, 3)
    sent = [r.json for r in endpoint.requests if r.path.endswith("/chat/completions")][-1]
    contents = [str(m["content"]) for m in sent["messages"]]
    assert any("Sit by the fire." in text for text in contents)
    assert not any("Before the import." in text for text in contents)

    telegram.user_message(CHAT, "/export")
    document = nth(telegram, 5).get("document")
    assert isinstance(document, dict)
    lines = telegram.file_bytes(str(document["file_id"])).decode().split("\n")
    names = [(m["name"], m["mes"]) for m in map(json.loads, lines[1:])]
    assert names[:4] == [
        ("Seraphina", "*She looks up from her book.* Evening, traveller."),
        ("Alex", "Good evening, Seraphina."),
        ("Seraphina", "Sit by the fire."),
        ("Alex", "Thank you. 🔥"),
    ]
    assert names[4][1] == "Is the fire warm?"

    telegram.user_message(CHAT, "/chats")
    listing = str(nth(telegram, 6).get("text", ""))
    assert "1. " in listing
    assert "“Before the import.”" in listing
