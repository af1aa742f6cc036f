"""What one bot process leaves for the next step is found by another process on the same
database: a key link, which reply's buttons act, a chat that refused drafts. Two bots
run one after the other on one database and one fake Telegram, as a restart or a second
worker behind a webhook would take the next update."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.platforms.common.latest import OLD_BUTTON
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.platforms.telegram.conftest import running

pytestmark = pytest.mark.slow

CHAT = 5001
GROUP = -100500
ALICE = 1001
TIMEOUT = 30.0
LINK = re.compile(r"https://t\.me/parlor_test_bot\?start=(\S+?)\)?(?:\s|$)")
SETTINGS = {"DEFAULT_MODEL": "scenario/numbered"}  # every reply differs: "Reply number N."


def texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [str(m.get("text", "")) for m in telegram.messages(chat_id)]


def said(telegram: FakeTelegram, chat_id: int, count: int) -> str:
    """The bot's message number `count` in the chat, once there."""
    telegram.wait_for_sync(lambda: len(telegram.messages(chat_id)) >= count, timeout=TIMEOUT)
    return texts(telegram, chat_id)[count - 1]


def wait_texts(telegram: FakeTelegram, chat_id: int, expected: list[str]) -> None:
    """Until the chat reads `expected`, its last reply settled under its buttons (so a bot
    stopped next has nothing left to write)."""

    def settled() -> bool:
        messages = telegram.messages(chat_id)
        markup = str(messages[-1].get("reply_markup", "")) if messages else ""
        return texts(telegram, chat_id) == expected and "Regenerate" in markup

    telegram.wait_for_sync(settled, timeout=TIMEOUT)


def press(telegram: FakeTelegram, chat_id: int, message_id: int, label: str) -> None:
    message = telegram.message(chat_id, message_id)
    assert message is not None
    rows = message["reply_markup"]["inline_keyboard"]
    data = next(b["callback_data"] for row in rows for b in row if label in b["text"])
    telegram.press_button(chat_id, message_id, data)


def test_a_key_link_offered_by_one_process_is_redeemed_by_another(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, migrated_template: Path
) -> None:
    """Alice's link comes from the first bot; the second opens it, takes her key and
    connects the group with it."""
    key = "sk-alice-9876543210"
    endpoint.required_api_key = key
    telegram.set_member(GROUP, ALICE, "administrator", can_change_info=True)
    with running(tmp_path, endpoint, telegram, SETTINGS, template=migrated_template):
        telegram.user_message(
            GROUP, f"/connect base_url:{endpoint.base_url} model:fake-model", from_user=ALICE
        )
        found = LINK.search(said(telegram, GROUP, 1))
        assert found
    with running(tmp_path, endpoint, telegram, SETTINGS, template=migrated_template) as other:
        telegram.user_message(ALICE, f"/start {found.group(1)}")
        assert "Send me the API key" in said(telegram, ALICE, 1)
        telegram.user_message(ALICE, key)
        assert "3210" in said(telegram, ALICE, 2)
        telegram.user_message(GROUP, "@parlor_test_bot hello there", from_user=ALICE)
        telegram.wait_for_sync(
            lambda: "You said: hello there" in texts(telegram, GROUP), timeout=TIMEOUT
        )
    assert key not in other.log


def test_a_press_is_judged_against_the_latest_reply_another_process_wrote(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, migrated_template: Path
) -> None:
    """Two replies written by the first bot: under the older one the second bot refuses
    Regenerate; under the newer one it regenerates."""
    with running(tmp_path, endpoint, telegram, SETTINGS, template=migrated_template):
        telegram.user_message(CHAT, "hi")
        wait_texts(telegram, CHAT, ["Reply number 1."])
        telegram.user_message(CHAT, "and again")
        wait_texts(telegram, CHAT, ["Reply number 1.", "Reply number 2."])
    older, newer = (m["message_id"] for m in telegram.messages(CHAT))
    with running(tmp_path, endpoint, telegram, SETTINGS, template=migrated_template):
        press(telegram, CHAT, older, "Regenerate")
        telegram.wait_for_sync(lambda: telegram.calls_to("answerCallbackQuery"), timeout=TIMEOUT)
        assert telegram.calls_to("answerCallbackQuery")[-1].params.get("text") == OLD_BUTTON
        press(telegram, CHAT, newer, "Regenerate")
        wait_texts(telegram, CHAT, ["Reply number 1.", "Reply number 2.", "Reply number 3."])


def test_a_chat_that_refused_drafts_is_not_asked_by_another_process(
    tmp_path: Path, endpoint: FakeOpenAI, telegram: FakeTelegram, migrated_template: Path
) -> None:
    """The first bot's draft is refused and it falls back to sending; the second bot sends
    at once, without trying a draft in that chat."""
    telegram.fail_next("sendMessageDraft", 400, "Bad Request: TEXTDRAFT_PEER_INVALID")
    with running(tmp_path, endpoint, telegram, SETTINGS, template=migrated_template):
        telegram.user_message(CHAT, "hi")
        wait_texts(telegram, CHAT, ["Reply number 1."])
    with running(tmp_path, endpoint, telegram, SETTINGS, template=migrated_template):
        telegram.user_message(CHAT, "and again")
        wait_texts(telegram, CHAT, ["Reply number 1.", "Reply number 2."])
    assert len(telegram.calls_to("sendMessageDraft")) == 1
