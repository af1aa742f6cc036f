"""The operator's access lists on Telegram: a refused person hears why in their private
chat (or a press's toast), at most once per window; a group never sees it, and nothing
reaches the model. Private chats can be turned off; key links still work there."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.platforms.telegram.conftest import running

GROUP = -1001234567890
OTHER_GROUP = -1009876543210
UNUSED_GROUP = -1005555555555
ALICE = 1001
BOB = 1002
CAROL = 1003
OPERATOR = 1099
TIMEOUT = 30.0
REFUSED_HERE = "This bot isn't available in this chat; its operator decides where it runs."
REFUSED_YOU = "This bot isn't available to you; its operator decides who may use it."
PRIVATE_OFF = "Private chats with this bot are turned off; talk to it in a group where it is."
LINK = re.compile(r"https://t\.me/parlor_test_bot\?start=(\S+?)\)?(?:\s|$)")


def texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [str(m.get("text", "")) for m in telegram.messages(chat_id)]


def wait_texts(telegram: FakeTelegram, chat_id: int, count: int) -> list[str]:
    """The texts of the bot's messages in the chat once there are `count`."""
    telegram.wait_for_sync(lambda: len(telegram.messages(chat_id)) >= count, timeout=TIMEOUT)
    return texts(telegram, chat_id)


def wait_for_text(telegram: FakeTelegram, chat_id: int, expected: str) -> None:
    """Until some bot message in the chat reads `expected` (a streamed one is edited into it)."""
    telegram.wait_for_sync(lambda: expected in texts(telegram, chat_id), timeout=TIMEOUT)


def asked(endpoint: FakeOpenAI) -> list[str]:
    """The last user line of each chat request the model received."""
    chats = [r for r in endpoint.requests if r.path.endswith("/chat/completions")]
    return [str(r.json["messages"][-1]["content"]) for r in chats]


def answered(telegram: FakeTelegram, count: int) -> None:
    """Until the bot has answered `count` callback queries."""
    telegram.wait_for_sync(
        lambda: len(telegram.calls_to("answerCallbackQuery")) >= count, timeout=TIMEOUT
    )


def mention(telegram: FakeTelegram, chat_id: int, text: str, user: int) -> dict[str, Any]:
    return telegram.user_message(chat_id, f"@parlor_test_bot {text}", from_user=user)


def test_a_blocked_group_gets_no_reply_and_the_sender_one_private_note(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> None:
    """Two mentions in a blocked group: nothing in the group, one private message to the
    sender, no request to the model; another group is answered."""
    telegram.add_chat(ALICE)  # Alice has started the bot, so it may write to her
    access = {"TELEGRAM_BLOCKED_CHATS": str(GROUP)}  # a group's id is negative
    with running(tmp_path, endpoint, telegram, bot_settings | access, template=migrated_template):
        mention(telegram, GROUP, "hello?", ALICE)
        wait_texts(telegram, ALICE, 1)
        mention(telegram, GROUP, "hello again?", ALICE)
        telegram.user_message(GROUP, "/settings", from_user=ALICE)
        mention(telegram, OTHER_GROUP, "over here", ALICE)
        wait_for_text(telegram, OTHER_GROUP, "You said: over here")
    assert texts(telegram, GROUP) == []
    assert texts(telegram, ALICE) == [REFUSED_HERE]
    assert asked(endpoint) == ["over here"]


def test_a_refused_user_who_never_started_the_bot_is_left_alone(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> None:
    """Telegram forbids the private note: swallowed, no warning, the group still silent."""
    access = {"TELEGRAM_BLOCKED_USERS": str(BOB)}
    settings = bot_settings | access
    with running(tmp_path, endpoint, telegram, settings, template=migrated_template) as bot:
        telegram.fail_next("sendMessage", 403, "Forbidden: bot can't initiate conversation")
        mention(telegram, GROUP, "hi", BOB)
        telegram.wait_for_sync(
            lambda: any(c.status == 403 for c in telegram.calls_to("sendMessage")),
            timeout=TIMEOUT,
        )
        mention(telegram, GROUP, "and me", ALICE)
        wait_for_text(telegram, GROUP, "You said: and me")
    assert len(telegram.messages(GROUP)) == 1
    assert asked(endpoint) == ["and me"]
    assert "WARNING" not in bot.log, bot.log
    assert "ERROR" not in bot.log, bot.log


def test_an_allowed_chats_list_admits_only_those_groups(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> None:
    """Listed group answered; an unlisted one refused privately; an operator admitted in it."""
    telegram.add_chat(ALICE)
    access = {
        "TELEGRAM_ALLOWED_CHATS": f"{GROUP},{UNUSED_GROUP}",  # negative ids, commas
        "TELEGRAM_OPERATOR_IDS": str(OPERATOR),
    }
    with running(tmp_path, endpoint, telegram, bot_settings | access, template=migrated_template):
        mention(telegram, OTHER_GROUP, "let me in", ALICE)
        wait_texts(telegram, ALICE, 1)
        mention(telegram, OTHER_GROUP, "operator here", OPERATOR)
        wait_for_text(telegram, OTHER_GROUP, "You said: operator here")
        mention(telegram, GROUP, "the right place", ALICE)
        wait_for_text(telegram, GROUP, "You said: the right place")
    assert texts(telegram, ALICE) == [REFUSED_HERE]
    assert sorted(asked(endpoint)) == ["operator here", "the right place"]


def test_with_private_chats_off_a_private_message_is_refused_in_that_chat(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> None:
    """One note in the private chat per window, /help still answers, nothing reaches the
    model; groups still work."""
    access = {"TELEGRAM_ALLOW_PRIVATE": "false"}
    with running(tmp_path, endpoint, telegram, bot_settings | access, template=migrated_template):
        telegram.user_message(ALICE, "hello in private")
        wait_texts(telegram, ALICE, 1)
        telegram.user_message(ALICE, "hello again")
        telegram.user_message(ALICE, "/help")
        wait_texts(telegram, ALICE, 2)
        mention(telegram, GROUP, "in the group", ALICE)
        wait_for_text(telegram, GROUP, "You said: in the group")
    note, help_text = texts(telegram, ALICE)
    assert note == PRIVATE_OFF
    assert "/help" in help_text or "/connect" in help_text, help_text
    assert asked(endpoint) == ["in the group"]


def test_with_private_chats_off_a_key_link_still_takes_the_key_privately(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> None:
    """A group admin's /connect link (offered as the key typed in the group is refused)
    opens in the private chat and takes the key there."""
    key = "sk-alice-9876543210"
    endpoint.required_api_key = key
    telegram.set_member(GROUP, ALICE, "administrator", can_change_info=True)
    access = {"TELEGRAM_ALLOW_PRIVATE": "false"}
    with running(tmp_path, endpoint, telegram, bot_settings | access, template=migrated_template):
        telegram.user_message(
            GROUP,
            f"/connect base_url:{endpoint.base_url} model:fake-model api_key:{key}",
            from_user=ALICE,
        )
        [offer] = wait_texts(telegram, GROUP, 1)
        found = LINK.search(offer)
        assert found, offer
        telegram.user_message(ALICE, f"/start {found.group(1)}")
        [asked_for_key] = wait_texts(telegram, ALICE, 1)
        assert "Send me the API key" in asked_for_key
        telegram.user_message(ALICE, key)
        confirmation = wait_texts(telegram, ALICE, 2)[1]
        assert "3210" in confirmation
        assert key not in confirmation
        mention(telegram, GROUP, "hello there", ALICE)
        wait_for_text(telegram, GROUP, "You said: hello there")
    assert asked(endpoint) == ["hello there"]


def test_a_refused_users_button_press_is_answered_in_its_toast(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> None:
    """Bob, blocked, presses Regenerate under Alice's reply: a toast says why, every time;
    no new reply, no request."""
    access = {"TELEGRAM_BLOCKED_USERS": f"{CAROL} {BOB}"}  # spaces separate ids as commas do
    with running(tmp_path, endpoint, telegram, bot_settings | access, template=migrated_template):
        mention(telegram, GROUP, "hi", ALICE)
        wait_for_text(telegram, GROUP, "You said: hi")
        reply = telegram.messages(GROUP)[0]
        telegram.wait_for_sync(
            lambda: "Regenerate" in str(telegram.message(GROUP, reply["message_id"])),
            timeout=TIMEOUT,
        )
        shown = telegram.message(GROUP, reply["message_id"])
        assert shown is not None
        rows = shown["reply_markup"]["inline_keyboard"]
        data = next(b["callback_data"] for row in rows for b in row if "Regenerate" in b["text"])
        for count in (1, 2):
            telegram.press_button(GROUP, reply["message_id"], data, from_user=BOB)
            answered(telegram, count)
    toasts = [c.params.get("text") for c in telegram.calls_to("answerCallbackQuery")]
    assert toasts == [REFUSED_YOU, REFUSED_YOU]
    assert len(telegram.messages(GROUP)) == 1
    assert asked(endpoint) == ["hi"]
    assert texts(telegram, BOB) == []


def test_with_the_notice_window_off_every_refused_mention_is_told(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> None:
    """ACCESS_NOTICE_SECONDS=0: each mention in a blocked group earns its own private note;
    the group still sees nothing and the model is never asked."""
    telegram.add_chat(ALICE)
    access = {"TELEGRAM_BLOCKED_CHATS": str(GROUP), "ACCESS_NOTICE_SECONDS": "0"}
    with running(tmp_path, endpoint, telegram, bot_settings | access, template=migrated_template):
        mention(telegram, GROUP, "hello?", ALICE)
        wait_texts(telegram, ALICE, 1)
        mention(telegram, GROUP, "hello again?", ALICE)
        wait_texts(telegram, ALICE, 2)
    assert texts(telegram, ALICE) == [REFUSED_HERE, REFUSED_HERE]
    assert texts(telegram, GROUP) == []
    assert asked(endpoint) == []
