"""The bot on Telegram end to end: the composition root (`Parlor`) in the test process,
the real python-telegram-bot talking HTTP to our fake Bot API (which enforces Telegram's
flood limits with 429s), and the fake OpenAI-compatible endpoint behind it."""

from __future__ import annotations

from typing import Any

import pytest

from bot.platforms.telegram.replier import GROUP_LIMITS
from bot.reply.pacing import CHANNEL_BURST_WRITES
from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.limits import WRITE_METHODS
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

PRIVATE_CHAT = 5001
GROUP_CHAT = -100777
TURNS = 4
"""Enough for later turns to wait on the chat's budget (a group's first two writes go at
once); how the budgets hold over minutes of writes is tested on a virtual clock in
test_flood_budgets.py."""
REPLY_TIMEOUT_SECONDS = 30.0
TIMEOUT = REPLY_TIMEOUT_SECONDS
JITTER_SECONDS = 0.5
"""Below the group interval (3 s) by enough for loopback jitter, above the gap a private
chat's budget (1 s) would leave: a group paced like a private chat fails."""


def bot_texts(telegram: FakeTelegram, chat_id: int) -> list[str]:
    return [m["text"] for m in telegram.messages(chat_id) if "text" in m]


def repeated_edits(telegram: FakeTelegram) -> list[str]:
    """Consecutive writes of the same text to the same message or draft."""
    last: dict[tuple[Any, ...], str] = {}
    repeats = []
    for call in telegram.calls_to("editMessageText", "sendMessageDraft"):
        if call.status != 200:
            continue
        key = (call.method, call.params.get("chat_id"), call.params.get("message_id"),
               call.params.get("draft_id"))  # fmt: skip
        text = str(call.params.get("text", ""))
        if last.get(key) == text:
            repeats.append(f"{call.method} {key}: {text!r}")
        last[key] = text
    return repeats


def wait_for_replies(telegram: FakeTelegram, chat_id: int, expected: list[str]) -> None:
    telegram.wait_for_sync(
        lambda: bot_texts(telegram, chat_id)[: len(expected)] == expected,
        timeout=REPLY_TIMEOUT_SECONDS,
    )


def converse(telegram: FakeTelegram, chat_id: int, say: str) -> list[str]:
    """`TURNS` turns, each waiting for its reply's final message; the replies expected."""
    expected = []
    for turn in range(TURNS):
        text = f"message {turn}"
        telegram.user_message(chat_id, say.format(text=text))
        expected.append(f"You said: {text}")
        wait_for_replies(telegram, chat_id, list(expected))
    return expected


def test_turns_in_a_private_chat(telegram: FakeTelegram, bot: RunningBot) -> None:
    """Drafts stream each reply; it ends as a real message equal to the endpoint's text,
    with no 429 and no write repeating the previous text."""
    expected = converse(telegram, PRIVATE_CHAT, "{text}")
    assert bot_texts(telegram, PRIVATE_CHAT) == expected
    assert telegram.rate_limited == []
    assert repeated_edits(telegram) == []
    assert telegram.calls_to("sendMessageDraft"), "private chats stream through drafts"
    assert telegram.calls_to("sendChatAction"), "typing shows until the first words"
    for scope in ("all_private_chats", "all_group_chats"):
        menu = [c["command"] for c in telegram.commands({"type": scope})]
        assert {"start", "connect", "model", "character"} <= set(menu)
    last = telegram.messages(PRIVATE_CHAT)[-1]
    buttons = [b["text"] for row in last["reply_markup"]["inline_keyboard"] for b in row]
    assert any("Regenerate" in label for label in buttons)


def test_turns_in_a_group(telegram: FakeTelegram, bot: RunningBot) -> None:
    """In a group the bot answers mentions, never repeating, and every write it makes there
    waits for the group's budget of 20 a minute."""
    telegram.user_message(GROUP_CHAT, "nobody is talking to the bot here")
    expected = converse(telegram, GROUP_CHAT, "@parlor_test_bot {text}")
    assert bot_texts(telegram, GROUP_CHAT) == expected
    assert telegram.rate_limited == []
    assert repeated_edits(telegram) == []
    writes = [
        call.at
        # Every write that spends the group's budget, button changes included.
        for call in telegram.calls_to(*WRITE_METHODS, "editMessageReplyMarkup")
        if call.status == 200 and call.chat_id == GROUP_CHAT
    ]
    assert len(writes) > CHANNEL_BURST_WRITES + 1, "enough writes for the budget to show"
    interval = GROUP_LIMITS.window_seconds / GROUP_LIMITS.writes_per_window
    # After a burst the budget spaces writes by its interval; the fake stamps arrivals,
    # which network jitter may bring a little closer.
    burst = CHANNEL_BURST_WRITES
    spans = [writes[n + burst] - writes[n] for n in range(len(writes) - burst)]
    assert min(spans) >= interval - JITTER_SECONDS, spans


@pytest.mark.parametrize("chat_id", [PRIVATE_CHAT, GROUP_CHAT])
def test_a_reply_past_4096_units_continues_in_a_new_message(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot, chat_id: int
) -> None:
    """600 tokens of 8 characters: two messages, nothing lost, each within the limit."""
    telegram.set_member(chat_id, 1001, "creator")
    mention = "@parlor_test_bot " if chat_id < 0 else ""
    for line in ("/model scenario/count", "/params max_tokens:600"):
        telegram.user_message(chat_id, line, from_user=1001 if chat_id < 0 else None)
    telegram.wait_for_sync(lambda: len(telegram.messages(chat_id)) == 2, timeout=TIMEOUT)
    telegram.user_message(chat_id, f"{mention}count", from_user=1001 if chat_id < 0 else None)
    expected = [f"t{n:06d}" for n in range(1, 601)]

    def words() -> list[str]:
        return " ".join(bot_texts(telegram, chat_id)[2:]).split()

    telegram.wait_for_sync(lambda: words() == expected, timeout=TIMEOUT)
    replies = bot_texts(telegram, chat_id)[2:]
    assert len(replies) == 2
    assert all(len(text.encode("utf-16-le")) // 2 <= 4096 for text in replies)
    assert telegram.rate_limited == []
