"""TelegramReplier against the fake Bot API with the real python-telegram-bot: what
reaches Telegram when entities are refused, a message vanishes, or a flood wait comes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import Bot

from bot.core.clock import SystemClock
from bot.core.shared_state import MemorySharedState
from bot.platforms.telegram.buttons import AFTER_REPLY
from bot.platforms.telegram.outbox import Outbox
from bot.platforms.telegram.replier import GROUP_LIMITS, PRIVATE_LIMITS, Place
from bot.reply.pacing import Pacing
from bot.storage.db import create_engine, create_sessions
from bot.storage.shared_state import SqlSharedState
from tests.fakes.telegram.server import FakeTelegram

GROUP = -100111
PRIVATE = 5005
CANT_PARSE = "Bad Request: can't parse entities: can't find end of the entity"


@pytest.fixture
async def fake() -> AsyncIterator[FakeTelegram]:
    async with FakeTelegram() as server:
        server.limits.enabled = False  # these tests are about answers, not pacing
        server.add_chat(GROUP)
        server.add_chat(PRIVATE)
        yield server


@pytest.fixture
async def outbox(fake: FakeTelegram) -> AsyncIterator[Outbox]:
    bot = Bot(fake.token, base_url=fake.api_url, base_file_url=fake.file_url)
    async with bot:
        yield Outbox(bot, Pacing(clock=SystemClock()), shared_state=MemorySharedState())


def texts_sent(fake: FakeTelegram, method: str) -> list[str]:
    return [str(c.params.get("text")) for c in fake.calls_to(method) if c.status == 200]


async def test_refused_entities_fall_back_to_plain_text_once(
    fake: FakeTelegram, outbox: Outbox
) -> None:
    """When Telegram cannot parse our entities the words go out plain, and the same text
    is never sent twice in a row afterwards."""
    replier = await outbox.replier(Place(GROUP))
    ref = await replier.send("**bold** start")
    fake.fail_next("editMessageText", 400, CANT_PARSE)
    await replier.edit(ref, "**bold** start and more")
    await replier.edit(ref, "**bold** start and more")
    edits = fake.calls_to("editMessageText")
    assert [c.status for c in edits] == [400, 200]
    assert not edits[-1].params.get("entities")
    assert fake.messages(GROUP)[-1]["text"] == "bold start and more"


async def test_a_message_deleted_mid_stream_continues_in_a_new_one(
    fake: FakeTelegram, outbox: Outbox
) -> None:
    replier = await outbox.replier(Place(GROUP))
    ref = await replier.send("first words")
    first = fake.messages(GROUP)[0]["message_id"]
    fake.fail_next("editMessageText", 400, "Bad Request: message to edit not found")
    await replier.edit(ref, "first words and the rest")
    assert [m["text"] for m in fake.messages(GROUP)] == ["first words", "first words and the rest"]
    assert replier.message_ids != [first]


async def test_a_draft_reply_survives_a_flood_wait_when_it_becomes_a_message(
    fake: FakeTelegram, outbox: Outbox
) -> None:
    """The real message a private reply ends as is retried after Telegram's retry_after,
    so the reply is not lost when its draft expires."""
    replier = await outbox.replier(Place(PRIVATE))
    ref = await replier.send("Hello")
    await replier.edit(ref, "Hello there")
    assert fake.messages(PRIVATE) == []  # still a draft
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    await replier.close(AFTER_REPLY)
    final = fake.messages(PRIVATE)
    assert [m["text"] for m in final] == ["Hello there"]
    assert "Regenerate" in str(final[0]["reply_markup"])
    attempts = fake.calls_to("sendMessage")
    assert [c.status for c in attempts] == [429, 200]
    assert attempts[1].at - attempts[0].at >= 1.0


async def test_drafts_off_after_a_refusal_fall_back_to_send_and_edit(
    fake: FakeTelegram, outbox: Outbox
) -> None:
    fake.fail_next("sendMessageDraft", 400, "Bad Request: TEXTDRAFT_PEER_INVALID")
    replier = await outbox.replier(Place(PRIVATE))
    ref = await replier.send("Hi")
    await replier.edit(ref, "Hi you")
    assert texts_sent(fake, "sendMessage") == ["Hi"]
    assert texts_sent(fake, "editMessageText") == ["Hi you"]
    later = await outbox.replier(Place(PRIVATE))
    await later.send("Next")
    assert len(fake.calls_to("sendMessageDraft")) == 1  # the chat is not asked again


@pytest.mark.parametrize(
    ("chat_id", "thread_id", "group"),
    [(5001, None, False), (-100777, None, True), (-1001234567890, 7, True), (-42, None, True)],
)
def test_groups_get_a_groups_limits_and_private_chats_their_own(
    chat_id: int, thread_id: int | None, group: bool
) -> None:
    """Telegram gives groups, supergroups and channels negative ids and a private chat the
    user's own: the write budget, the heading and drafts all follow from which it is."""
    place = Place(chat_id, thread_id)
    assert place.in_group is group
    assert place.limits == (GROUP_LIMITS if group else PRIVATE_LIMITS)
    assert GROUP_LIMITS.writes_per_window / GROUP_LIMITS.window_seconds < (
        PRIVATE_LIMITS.writes_per_window / PRIVATE_LIMITS.window_seconds
    )


async def test_another_process_remembers_a_chat_that_refused_drafts(
    fake: FakeTelegram, migrated_sqlite_url: str
) -> None:
    """Two processes' outboxes on one database: once drafts were refused in a chat, the
    other process sends and edits there without asking for a draft."""
    engines = [create_engine(migrated_sqlite_url) for _ in range(2)]
    bot = Bot(fake.token, base_url=fake.api_url, base_file_url=fake.file_url)
    try:
        async with bot:
            one, other = (
                Outbox(bot, Pacing(clock=SystemClock()), shared_state=SqlSharedState(sessions))
                for sessions in map(create_sessions, engines)
            )
            fake.fail_next("sendMessageDraft", 400, "Bad Request: TEXTDRAFT_PEER_INVALID")
            first = await one.replier(Place(PRIVATE))
            await first.send("Hi")
            later = await other.replier(Place(PRIVATE))
            await later.send("Next")
    finally:
        for engine in engines:
            await engine.dispose()
    assert len(fake.calls_to("sendMessageDraft")) == 1
    assert texts_sent(fake, "sendMessage") == ["Hi", "Next"]
