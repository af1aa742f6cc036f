"""A group's own /access rules on Telegram: its admins keep the bot to some forum topics.
A member writing elsewhere hears why privately, once per window; the group sees nothing,
and nothing reaches the model. Telegram gives bots no roles, so a role rule is refused."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.platforms.telegram.conftest import running
from tests.platforms.telegram.test_telegram_access import (
    ALICE,
    BOB,
    GROUP,
    asked,
    texts,
    wait_for_text,
    wait_texts,
)

QUESTS = 5
TAVERN = 7
OTHER_TOPIC = "this isn't one of them"


def test_a_group_kept_to_one_topic_answers_only_there_and_its_admin_anywhere(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> None:
    """Bob (the group's owner) keeps the bot to the Quests topic. Alice asking in the Tavern
    gets one private note for two mentions, her command there is refused the same way, and
    the Tavern sees nothing; she is answered in Quests, and Bob in the Tavern."""
    telegram.add_chat(ALICE)
    telegram.set_member(GROUP, BOB, "creator")
    with running(tmp_path, endpoint, telegram, bot_settings, template=migrated_template):
        telegram.user_message(
            GROUP, "/access channel:here", from_user=BOB, message_thread_id=QUESTS
        )
        wait_for_text(
            telegram,
            GROUP,
            f"The bot answers only in: topic {QUESTS}.\n"
            "Server admins are never kept out, so these rules can always be changed.",
        )
        telegram.user_message(GROUP, "/access role:123", from_user=BOB, message_thread_id=QUESTS)
        telegram.wait_for_sync(
            lambda: any("no roles to check" in t for t in texts(telegram, GROUP)), timeout=30
        )
        mention_in(telegram, TAVERN, "anyone here?", ALICE)
        wait_texts(telegram, ALICE, 1)
        mention_in(telegram, TAVERN, "hello?", ALICE)
        telegram.user_message(GROUP, "/settings", from_user=ALICE, message_thread_id=TAVERN)
        mention_in(telegram, QUESTS, "a quest", ALICE)
        wait_finished(telegram, "You said: a quest")
        mention_in(telegram, TAVERN, "owner here", BOB)
        wait_finished(telegram, "You said: owner here")
    [note] = texts(telegram, ALICE)
    assert OTHER_TOPIC in note
    tavern = [m for m in telegram.messages(GROUP) if m.get("message_thread_id") == TAVERN]
    assert [m["text"] for m in tavern] == ["You said: owner here"]
    lines = asked(endpoint)  # a second speaker is named in the prompt ("Bob: owner here")
    assert len(lines) == 2, lines
    assert lines[0].endswith("a quest"), lines
    assert lines[1].endswith("owner here"), lines


def wait_finished(telegram: FakeTelegram, text: str) -> None:
    """Until a reply in the group reads `text` with its buttons under it: written whole."""

    def finished() -> bool:
        return any(
            m.get("text") == text and "p1:regen" in str(m.get("reply_markup"))
            for m in telegram.messages(GROUP)
        )

    telegram.wait_for_sync(finished, timeout=30)


def mention_in(telegram: FakeTelegram, topic: int, text: str, user: int) -> None:
    telegram.user_message(
        GROUP, f"@parlor_test_bot {text}", from_user=user, message_thread_id=topic
    )
