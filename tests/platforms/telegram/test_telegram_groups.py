"""When the bot speaks in a group: mentions, replies to it, /listen, and forum topics."""

from __future__ import annotations

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

GROUP = -100654
ADMIN = 1001
TIMEOUT = 30.0


def texts(telegram: FakeTelegram) -> list[str]:
    return [str(m.get("text", "")) for m in telegram.messages(GROUP)]


def wait_texts(telegram: FakeTelegram, expected: list[str]) -> None:
    telegram.wait_for_sync(lambda: texts(telegram) == expected, timeout=TIMEOUT)


def test_replies_to_the_bot_and_listen_all(telegram: FakeTelegram, bot: RunningBot) -> None:
    """Chatter is ignored until an admin runs /listen all; a reply to the bot is answered."""
    telegram.set_member(GROUP, ADMIN, "administrator", can_change_info=True)
    telegram.user_message(GROUP, "just people talking", from_user=ADMIN)
    telegram.user_message(GROUP, "@parlor_test_bot hi", from_user=ADMIN)
    wait_texts(telegram, ["You said: hi"])
    first = telegram.messages(GROUP)[0]
    telegram.user_message(
        GROUP, "and this?", reply_to_message_id=first["message_id"], from_user=ADMIN
    )
    wait_texts(telegram, ["You said: hi", "You said: and this?"])

    telegram.user_message(GROUP, "/listen all", from_user=ADMIN)
    telegram.wait_for_sync(lambda: "every message" in texts(telegram)[-1], timeout=TIMEOUT)
    telegram.user_message(GROUP, "no mention at all", from_user=ADMIN)
    telegram.wait_for_sync(
        lambda: texts(telegram)[-1] == "You said: no mention at all", timeout=TIMEOUT
    )
    assert "just people talking" not in " ".join(texts(telegram))


def test_forum_topics_keep_their_own_conversations(telegram: FakeTelegram, bot: RunningBot) -> None:
    """A model chosen in one topic does not change another; replies stay in their topic."""
    telegram.set_member(GROUP, ADMIN, "creator")
    telegram.user_message(GROUP, "/model scenario/normal", message_thread_id=7, from_user=ADMIN)
    telegram.wait_for_sync(lambda: len(texts(telegram)) == 1, timeout=TIMEOUT)
    telegram.user_message(GROUP, "@parlor_test_bot in seven", message_thread_id=7)
    telegram.user_message(GROUP, "@parlor_test_bot in nine", message_thread_id=9)
    expected = {7: "Hello! How can I help you today?", 9: "You said: in nine"}
    telegram.wait_for_sync(lambda: by_topic(telegram) == expected, timeout=TIMEOUT)


def by_topic(telegram: FakeTelegram) -> dict[int, str]:
    return {m.get("message_thread_id"): m["text"] for m in telegram.messages(GROUP)[1:]}
