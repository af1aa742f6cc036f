"""Characters and pictures on Telegram: a card sent with /character import (or replied
to), the character's name on its replies in a group, and a photo for a vision model."""

from __future__ import annotations

import json

import pytest

from bot.characters.export import card_to_png
from tests.fakes.bot_thread import RunningBot
from tests.fakes.telegram.server import FakeTelegram
from tests.prompt.worked_example import ALICE

pytestmark = pytest.mark.slow

GROUP = -100321
ADMIN = 1001
CHAT = 5001
TIMEOUT = 30.0


def said(telegram: FakeTelegram, chat_id: int, count: int) -> str:
    telegram.wait_for_sync(lambda: len(telegram.messages(chat_id)) >= count, timeout=TIMEOUT)
    return str(telegram.messages(chat_id)[count - 1].get("text", ""))


def test_a_card_sent_with_the_command_becomes_the_groups_character(
    telegram: FakeTelegram, bot: RunningBot
) -> None:
    telegram.set_member(GROUP, ADMIN, "creator")
    card = telegram.add_file(card_to_png(ALICE, None), "alice.png", "image/png")
    telegram.user_message(GROUP, "/character import", document=card, from_user=ADMIN)
    assert said(telegram, GROUP, 1).startswith("Imported Alice")

    telegram.user_message(GROUP, "/character use Alice", from_user=ADMIN)
    greeting = said(telegram, GROUP, 2)
    assert greeting.startswith("Alice: ")
    assert "Hello, " in greeting

    telegram.user_message(GROUP, "@parlor_test_bot Hey Alice", from_user=ADMIN)
    assert said(telegram, GROUP, 3) == "Alice: You said: Hey Alice"
    bold = telegram.messages(GROUP)[2]["entities"][0]
    assert (bold["type"], bold["offset"], bold["length"]) == ("bold", 0, len("Alice:"))


def test_a_card_replied_to_is_imported_and_a_member_cannot_replace_it(
    telegram: FakeTelegram, bot: RunningBot
) -> None:
    telegram.set_member(GROUP, ADMIN, "creator")
    telegram.set_member(GROUP, 1002, "member")
    card = telegram.add_file(json.dumps(ALICE.data).encode(), "alice.json", "application/json")
    posted = telegram.user_message(GROUP, "", document=card, from_user=ADMIN)
    telegram.user_message(
        GROUP, "/character import", reply_to_message_id=posted["message_id"], from_user=ADMIN
    )
    assert said(telegram, GROUP, 1).startswith("Imported Alice")
    telegram.user_message(
        GROUP, "/character import", reply_to_message_id=posted["message_id"], from_user=1002
    )
    assert "manage" in said(telegram, GROUP, 2)


def test_a_photo_reaches_the_model_as_an_image(telegram: FakeTelegram, bot: RunningBot) -> None:
    """The fake endpoint echoes the user message; with a picture that is a content array."""
    photo = telegram.add_file(b"\xff\xd8\xff\xe0 not really a jpeg", "cat.jpg", "image/jpeg")
    telegram.user_message(CHAT, "what is this?", photo=photo)
    reply = said(telegram, CHAT, 1)
    assert "image_url" in reply
    assert "data:image/jpeg;base64," in reply
    assert "what is this?" in reply
