"""API keys on Telegram: never taken in a group, taken privately through a one-time link,
and only from an admin who may change the group's info."""

from __future__ import annotations

import re

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

GROUP = -100500
ALICE = 1001  # the group's admin
BOB = 1002  # a member
TIMEOUT = 30.0
FAKE_KEY = "sk-" + "abcdefghijklmnop" + "123456"  # key-shaped, built so no key is committed
LINK = re.compile(r"https://t\.me/parlor_test_bot\?start=(\S+?)\)?(?:\s|$)")


@pytest.fixture
def bot_settings() -> dict[str, str]:
    """The most talkative log level: no key and no token may show even there."""
    return {"DEFAULT_MODEL": "fake-model", "LOG_LEVEL": "DEBUG"}


def said(telegram: FakeTelegram, chat_id: int, count: int) -> str:
    """The bot's newest message once it has sent `count` messages to the chat."""
    telegram.wait_for_sync(lambda: len(telegram.messages(chat_id)) >= count, timeout=TIMEOUT)
    return str(telegram.messages(chat_id)[count - 1]["text"])


def wait_for_text(telegram: FakeTelegram, chat_id: int, count: int, expected: str) -> None:
    """Until message `count` reads `expected`: a streamed reply is edited until it does."""
    telegram.wait_for_sync(
        lambda: (
            len(telegram.messages(chat_id)) >= count
            and telegram.messages(chat_id)[count - 1].get("text") == expected
        ),
        timeout=TIMEOUT,
    )


def everything_the_bot_wrote(telegram: FakeTelegram) -> str:
    return "\n".join(str(call.params) for call in telegram.calls if call.method != "getUpdates")


def test_a_key_typed_in_a_group_is_deleted_and_never_stored(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """Bob is no admin: his key message is deleted, he is told to revoke it, gets no link,
    and the group keeps the operator's endpoint."""
    telegram.set_member(GROUP, BOB, "member")
    typed = telegram.user_message(
        GROUP, f"/connect base_url:{endpoint.base_url} api_key:sk-bob-0123456789", from_user=BOB
    )
    warning = said(telegram, GROUP, 1)
    assert "revoke" in warning
    assert "t.me/" not in warning
    assert telegram.message(GROUP, typed["message_id"]) is None  # deleted
    telegram.user_message(GROUP, "/settings", from_user=BOB)
    assert "operator's default endpoint" in said(telegram, GROUP, 2)
    assert "sk-bob-0123456789" not in everything_the_bot_wrote(telegram)
    assert bot.stop() == 0
    assert "sk-bob-0123456789" not in bot.log


def test_a_member_may_not_connect_but_an_admin_may(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """Rights come from getChatMember at the moment of the command."""
    telegram.set_member(GROUP, BOB, "member")
    telegram.set_member(GROUP, ALICE, "administrator", can_change_info=True)
    telegram.user_message(GROUP, f"/connect base_url:{endpoint.base_url}", from_user=BOB)
    refused = said(telegram, GROUP, 1)
    assert "manage" in refused.lower() or "admin" in refused.lower()
    telegram.user_message(GROUP, f"/connect base_url:{endpoint.base_url}", from_user=ALICE)
    accepted = said(telegram, GROUP, 2)
    assert "t.me/parlor_test_bot?start=" in accepted
    telegram.user_message(GROUP, "/settings", from_user=BOB)
    assert endpoint.base_url in said(telegram, GROUP, 3)
    assert telegram.calls_to("getChatMember")


def test_an_admin_sends_the_key_privately_through_a_one_time_link(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """The link works once, for Alice only; her key message is deleted, the key is stored
    (the endpoint then accepts the group's chat) and only ever shown masked."""
    key = "sk-alice-9876543210"
    endpoint.required_api_key = key
    telegram.set_member(GROUP, ALICE, "administrator", can_change_info=True)
    telegram.user_message(
        GROUP,
        f"/connect base_url:{endpoint.base_url} model:fake-model api_key:{key}",
        from_user=ALICE,
    )
    warning = said(telegram, GROUP, 1)
    found = LINK.search(warning)
    assert found, warning
    token = found.group(1)

    telegram.user_message(BOB, f"/start {token}")
    assert "expired, was used already, or was made for someone else" in said(telegram, BOB, 1)

    telegram.user_message(ALICE, f"/start {token}")
    assert "Send me the API key" in said(telegram, ALICE, 1)
    typed = telegram.user_message(ALICE, key)
    confirmation = said(telegram, ALICE, 2)
    assert telegram.message(ALICE, typed["message_id"]) is None
    assert key not in confirmation
    assert "3210" in confirmation  # the masked key's tail

    telegram.user_message(ALICE, f"/start {token}")
    assert "expired, was used already" in said(telegram, ALICE, 3)

    telegram.user_message(GROUP, "@parlor_test_bot hello there", from_user=ALICE)
    wait_for_text(telegram, GROUP, 2, "You said: hello there")
    assert key not in everything_the_bot_wrote(telegram)
    assert bot.stop() == 0
    assert "telegram: polling" in bot.log
    assert key not in bot.log


def generations(endpoint: FakeOpenAI) -> int:
    return sum(1 for r in endpoint.requests if r.path == "/v1/chat/completions")


def test_a_key_pasted_as_chat_never_reaches_the_model(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """In a private chat, a message shaped like a key is deleted and not passed on; a key
    hidden in a group command for another bot, or given without its option name, is
    deleted too."""
    stray = telegram.user_message(ALICE, "sk-proj-abcdefghijklmnop1234567890")
    assert "did not pass it to the model" in said(telegram, ALICE, 1)
    assert telegram.message(ALICE, stray["message_id"]) is None
    telegram.user_message(ALICE, "hello")
    wait_for_text(telegram, ALICE, 2, "You said: hello")
    assert generations(endpoint) == 1

    for line in (
        f"/connect@other_bot api_key:{FAKE_KEY}",
        f"/connect {endpoint.base_url} {FAKE_KEY}",
    ):
        typed = telegram.user_message(GROUP, line, from_user=BOB)
        telegram.wait_for_sync(
            lambda typed=typed: telegram.message(GROUP, typed["message_id"]) is None,
            timeout=TIMEOUT,
        )
    assert "revoke" in said(telegram, GROUP, 2)
    assert bot.stop() == 0
    assert "abcdefghijklmnop" not in bot.log


def test_the_private_flow_refuses_what_is_not_a_key(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    telegram.set_member(GROUP, ALICE, "administrator", can_change_info=True)
    telegram.user_message(GROUP, f"/connect base_url:{endpoint.base_url}", from_user=ALICE)
    found = LINK.search(said(telegram, GROUP, 1))
    assert found
    telegram.user_message(ALICE, f"/start {found.group(1)}")
    said(telegram, ALICE, 1)
    telegram.user_message(ALICE, "ok")
    assert "doesn't look like an API key" in said(telegram, ALICE, 2)
    telegram.user_message(GROUP, "/settings", from_user=ALICE)
    assert "API key: none" in said(telegram, GROUP, 2)
