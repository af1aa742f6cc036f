"""The buttons under a reply: Regenerate, the swipe arrows, Continue, and Stop."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

CHAT = 5001
GROUP = -100900
ADMIN = 1001
TIMEOUT = 30.0


@pytest.fixture
def bot_settings() -> dict[str, str]:
    return {"DEFAULT_MODEL": "scenario/numbered"}  # every reply differs: "Reply number N."


def texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [str(m.get("text", "")) for m in telegram.messages(chat_id)]


def wait_texts(telegram: FakeTelegram, chat_id: int, expected: list[str]) -> None:
    telegram.wait_for_sync(lambda: texts(telegram, chat_id) == expected, timeout=TIMEOUT)


def labels(message: dict[str, Any]) -> list[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button["text"] for row in rows for button in row]


def press(
    telegram: FakeTelegram,
    chat_id: int,
    message_id: int,
    label: str,
    *,
    from_user: int | None = None,
) -> None:
    message = telegram.message(chat_id, message_id)
    assert message is not None
    rows = message["reply_markup"]["inline_keyboard"]
    data = next(b["callback_data"] for row in rows for b in row if label in b["text"])
    telegram.press_button(chat_id, message_id, data, from_user=from_user)


def test_regenerate_and_swipe_buttons(telegram: FakeTelegram, bot: RunningBot) -> None:
    """Regenerate writes a new reply; the arrows show each kept version in place; past the
    newest, the presser alone is told so."""
    telegram.user_message(CHAT, "hi")
    wait_texts(telegram, CHAT, ["Reply number 1."])
    first = telegram.messages(CHAT)[0]
    assert {"◀", "▶"} <= set(labels(first))

    press(telegram, CHAT, first["message_id"], "Regenerate")
    wait_texts(telegram, CHAT, ["Reply number 1.", "Reply number 2."])
    second = telegram.messages(CHAT)[1]

    press(telegram, CHAT, second["message_id"], "◀")
    wait_texts(telegram, CHAT, ["Reply number 1.", "Reply number 1.\n(1/2)"])
    press(telegram, CHAT, second["message_id"], "▶")
    wait_texts(telegram, CHAT, ["Reply number 1.", "Reply number 2.\n(2/2)"])
    assert labels(telegram.messages(CHAT)[1]) == labels(second)

    before = len(telegram.calls_to("answerCallbackQuery"))
    press(telegram, CHAT, second["message_id"], "▶")
    telegram.wait_for_sync(
        lambda: len(telegram.calls_to("answerCallbackQuery")) > before, timeout=TIMEOUT
    )
    toast = telegram.calls_to("answerCallbackQuery")[-1].params.get("text", "")
    assert "newest version" in str(toast)
    assert texts(telegram, CHAT)[1] == "Reply number 2.\n(2/2)"


def test_continue_button_extends_the_reply(telegram: FakeTelegram, bot: RunningBot) -> None:
    telegram.user_message(CHAT, "tell me")
    wait_texts(telegram, CHAT, ["Reply number 1."])
    press(telegram, CHAT, telegram.messages(CHAT)[0]["message_id"], "Continue")
    telegram.wait_for_sync(
        lambda: any("Reply number 2." in text for text in texts(telegram, CHAT)), timeout=TIMEOUT
    )


def test_stop_button_stops_a_reply_in_a_group(telegram: FakeTelegram, bot: RunningBot) -> None:
    """Stop shows while the reply streams; pressing it keeps the words so far."""
    telegram.set_member(GROUP, ADMIN, "creator")
    telegram.user_message(GROUP, "/model scenario/slow", from_user=ADMIN)
    wait_texts(telegram, GROUP, ["This channel now talks to scenario/slow."])
    telegram.user_message(GROUP, "@parlor_test_bot go on and on", from_user=ADMIN)
    streaming = telegram.wait_for_sync(
        lambda: next((m for m in telegram.messages(GROUP)[1:] if "Stop" in str(labels(m))), None),
        timeout=TIMEOUT,
    )
    press(telegram, GROUP, streaming["message_id"], "Stop")
    telegram.wait_for_sync(lambda: "(stopped)" in texts(telegram, GROUP)[-1], timeout=TIMEOUT)
    telegram.wait_for_sync(  # the buttons change once the group's budget allows a write
        lambda: "Regenerate" in str(labels(telegram.messages(GROUP)[-1])), timeout=TIMEOUT
    )
    assert texts(telegram, GROUP)[-1].startswith("t000001")


def test_stop_under_a_private_draft_stops_the_reply(
    telegram: FakeTelegram, bot: RunningBot
) -> None:
    """Drafts carry no inline keyboard; Telegram's own Stop button on a draft (can_stop)
    sends an update that stops the reply, which ends as a real message, marked stopped."""
    telegram.user_message(CHAT, "/model scenario/slow")
    wait_texts(telegram, CHAT, ["This channel now talks to scenario/slow."])
    telegram.user_message(CHAT, "go on and on")
    draft_id = telegram.wait_for_sync(
        lambda: next((d for d, v in telegram.drafts(CHAT).items() if v["text"]), None),
        timeout=TIMEOUT,
    )
    telegram.stop_generation(CHAT, draft_id)
    telegram.wait_for_sync(lambda: "(stopped)" in texts(telegram, CHAT)[-1], timeout=TIMEOUT)
    assert texts(telegram, CHAT)[-1].startswith("t000001")
