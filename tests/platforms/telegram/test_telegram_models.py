"""/model with no name on Telegram: a paged picker of the endpoint's models."""

from __future__ import annotations

from typing import Any

import pytest

from bot.platforms.telegram.picker import PAGE_SIZE, checksum, chosen, picker, read_picker
from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

CHAT = 5001
TIMEOUT = 30.0


def buttons(message: dict[str, Any]) -> list[dict[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [button for row in rows for button in row]


def test_pages_cover_every_model_once() -> None:
    models = [f"model-{n}" for n in range(20)]
    seen = []
    for page in range(3):
        for button in picker(models, page).inline_keyboard:
            press = read_picker(str(button[0].callback_data))
            if press is not None and press.index is not None:
                seen.append(chosen(models, press))
    assert seen == models


def test_a_changed_list_never_picks_the_wrong_model() -> None:
    """The checksum finds the model where it moved, or nothing if it is gone."""
    models = ["a", "b", "c"]
    press = read_picker(f"p1:m:s:1:{checksum('b')}")
    assert press is not None
    assert chosen(["x", "a", "c", "b"], press) == "b"
    assert chosen(["a", "c"], press) is None
    assert chosen(models, press) == "b"


@pytest.mark.slow
def test_the_picker_pages_and_chooses(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    endpoint.models = [f"model-{n:02d}" for n in range(PAGE_SIZE + 3)]
    telegram.user_message(CHAT, "/model")
    telegram.wait_for_sync(lambda: len(telegram.messages(CHAT)) == 1, timeout=TIMEOUT)
    menu = telegram.messages(CHAT)[0]
    labels = [b["text"] for b in buttons(menu)]
    assert labels[:PAGE_SIZE] == endpoint.models[:PAGE_SIZE]
    assert "1/2" in labels

    forward = next(b for b in buttons(menu) if b["text"] == "▶")
    telegram.press_button(CHAT, menu["message_id"], forward["callback_data"])
    telegram.wait_for_sync(
        lambda: "model-08" in str(telegram.messages(CHAT)[0].get("reply_markup")),
        timeout=TIMEOUT,
    )
    page_two = telegram.messages(CHAT)[0]
    choice = next(b for b in buttons(page_two) if b["text"] == "model-09")
    telegram.press_button(CHAT, menu["message_id"], choice["callback_data"])
    telegram.wait_for_sync(
        lambda: "model-09" in str(telegram.messages(CHAT)[0]["text"]), timeout=TIMEOUT
    )
    assert not buttons(telegram.messages(CHAT)[0])
    telegram.user_message(CHAT, "/settings")
    telegram.wait_for_sync(lambda: len(telegram.messages(CHAT)) == 2, timeout=TIMEOUT)
    assert "Model: model-09" in telegram.messages(CHAT)[1]["text"]
