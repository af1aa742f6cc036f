"""The fake Telegram server, driven by the real python-telegram-bot over HTTP on loopback."""

from __future__ import annotations

import asyncio
import datetime as dtm
from collections.abc import AsyncIterator

import pytest
from telegram import (
    Bot,
    ChatMemberAdministrator,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    Update,
)
from telegram.error import BadRequest, InvalidToken, RetryAfter
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

from tests.fakes.clock import FakeClock
from tests.fakes.telegram.limits import FloodLimits
from tests.fakes.telegram.server import FakeTelegram

PRIVATE = 42
GROUP = -1001234567890


@pytest.fixture(autouse=True)
def _timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns when RetryAfter.retry_after is read as an int; opt in to timedelta."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def fake(clock: FakeClock) -> AsyncIterator[FakeTelegram]:
    """A fake with a private and a group chat; flood limits off (tested on their own)."""
    async with FakeTelegram(clock=clock.now) as server:
        server.limits.enabled = False
        server.add_chat(PRIVATE)
        server.add_chat(GROUP, "supergroup", title="Test group")
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.api_url, base_file_url=fake.file_url) as client:
        yield client


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton("Stop", callback_data=data)]])


def message_of(update: Update) -> Message:
    assert update.message is not None
    return update.message


async def edit(bot: Bot, chat_id: int, message_id: int, text: str) -> Message:
    """editMessageText in a chat (PTB types the answer as Message | bool, for inline messages)."""
    edited = await bot.edit_message_text(text, chat_id, message_id)
    assert isinstance(edited, Message)
    return edited


async def test_get_me_answers_the_configured_bot(fake: FakeTelegram, bot: Bot) -> None:
    """getMe returns the bot's id (from the token), username and capabilities."""
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456789, "parlor_test_bot", True)
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False


async def test_wrong_token_is_unauthorized(fake: FakeTelegram) -> None:
    """A token the fake does not know gets 401, which PTB reports as InvalidToken."""
    with pytest.raises(InvalidToken):
        async with Bot("1:wrong", base_url=fake.api_url):
            pass


async def test_send_then_edit_updates_the_stored_message(fake: FakeTelegram, bot: Bot) -> None:
    """An edit replaces text, entities and keyboard of the message the bot sent."""
    sent = await bot.send_message(PRIVATE, "Thinking…", reply_markup=keyboard("stop"))
    bold = MessageEntity(MessageEntity.BOLD, 0, 4)
    edited = await bot.edit_message_text("Done 🎉", PRIVATE, sent.message_id, entities=[bold])
    assert isinstance(edited, Message)
    assert edited.text == "Done 🎉"
    stored = fake.message(PRIVATE, sent.message_id)
    assert stored is not None
    assert stored["entities"] == [{"type": "bold", "offset": 0, "length": 4}]
    assert "reply_markup" not in stored  # an edit without reply_markup drops the keyboard
    assert [m["text"] for m in fake.messages(PRIVATE)] == ["Done 🎉"]
    assert [c.status for c in fake.calls_to("sendMessage", "editMessageText")] == [200, 200]


async def test_reply_points_at_the_users_message(fake: FakeTelegram, bot: Bot) -> None:
    """A reply stores the replied-to message; replying to a missing one is a BadRequest."""
    asked = fake.user_message(PRIVATE, "What is six times seven?")
    await bot.send_message(PRIVATE, "42", reply_to_message_id=asked["message_id"])
    (reply,) = fake.messages(PRIVATE)
    assert reply["reply_to_message"]["text"] == "What is six times seven?"
    with pytest.raises(BadRequest, match=r"^Message to be replied not found$"):
        await bot.send_message(PRIVATE, "?", reply_to_message_id=999)


async def test_unknown_chat_is_not_found(bot: Bot) -> None:
    """The bot can only write to chats the fake knows (from a user's message or add_chat)."""
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(777, "hello?")


async def test_unchanged_edit_is_not_modified(fake: FakeTelegram, bot: Bot) -> None:
    """Same text, entities and keyboard: Telegram's "message is not modified" BadRequest."""
    sent = await bot.send_message(PRIVATE, "same", reply_markup=keyboard("stop"))
    with pytest.raises(BadRequest, match=r"^Message is not modified: specified new message"):
        await bot.edit_message_text("same", PRIVATE, sent.message_id, reply_markup=keyboard("stop"))
    assert fake.calls_to("editMessageText")[-1].status == 400


async def test_edit_of_unknown_message_is_not_found(bot: Bot) -> None:
    """Editing a message that does not exist is a BadRequest naming it."""
    with pytest.raises(BadRequest, match=r"^Message to edit not found$"):
        await bot.edit_message_text("text", PRIVATE, 999)


async def test_delete_removes_and_then_is_not_found(fake: FakeTelegram, bot: Bot) -> None:
    """A deleted message is gone from the chat; deleting it again is a BadRequest."""
    sent = await bot.send_message(GROUP, "bye")
    assert await bot.delete_message(GROUP, sent.message_id) is True
    assert fake.messages(GROUP) == []
    with pytest.raises(BadRequest, match=r"^Message to delete not found$"):
        await bot.delete_message(GROUP, sent.message_id)


async def test_text_over_4096_utf16_units_is_too_long(bot: Bot) -> None:
    """2049 emoji are 4098 UTF-16 code units: too long, though only 2049 characters."""
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(PRIVATE, "😀" * 2049)


async def test_blank_text_is_empty(bot: Bot) -> None:
    """Whitespace alone is not a message."""
    with pytest.raises(BadRequest, match=r"^Message text is empty$"):
        await bot.send_message(PRIVATE, "  \n")


async def test_entity_past_the_end_cannot_be_parsed(bot: Bot) -> None:
    """An entity must lie inside the text, measured in UTF-16 code units."""
    with pytest.raises(BadRequest, match=r"^Can't parse entities: entity 0"):
        await bot.send_message(PRIVATE, "😀", entities=[MessageEntity("bold", 0, 3)])


async def test_markdown_v2_needs_reserved_characters_escaped(bot: Bot) -> None:
    """A bare '.' in MarkdownV2 is refused with Telegram's own words."""
    with pytest.raises(BadRequest, match=r"character '\.' is reserved and must be escaped"):
        await bot.send_message(PRIVATE, "*Hello* world.", parse_mode="MarkdownV2")
    sent = await bot.send_message(PRIVATE, "*Hello* world\\.", parse_mode="MarkdownV2")
    assert sent.text == "Hello world."


async def test_injected_failure_surfaces_as_retry_after(fake: FakeTelegram, bot: Bot) -> None:
    """fail_next with retry_after answers 429 once, which PTB raises as RetryAfter."""
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(PRIVATE, "first")
    assert caught.value.retry_after == dtm.timedelta(seconds=7)
    assert (await bot.send_message(PRIVATE, "second")).text == "second"


async def test_group_refuses_the_21st_write_in_a_minute(
    fake: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    """20 writes a minute per group; the 21st gets 429 until the first leaves the window."""
    fake.limits.enabled = True
    for index in range(20):
        await bot.send_message(GROUP, f"message {index}")
        await clock.advance(1.0)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "one too many")
    assert caught.value.retry_after == dtm.timedelta(seconds=40)
    assert [(e.scope, e.retry_after) for e in fake.rate_limited] == [("group", 40)]
    await clock.advance(40.0)
    assert (await bot.send_message(GROUP, "allowed again")).text == "allowed again"


async def test_private_chat_allows_one_write_per_second(
    fake: FakeTelegram, bot: Bot, clock: FakeClock
) -> None:
    """Edits count as writes: a second write in the same second of a private chat gets 429."""
    fake.limits.enabled = True
    sent = await bot.send_message(PRIVATE, "one")
    await clock.advance(0.5)
    with pytest.raises(RetryAfter):
        await bot.edit_message_text("two", PRIVATE, sent.message_id)
    await clock.advance(0.5)
    assert (await edit(bot, PRIVATE, sent.message_id, "two")).text == "two"


def test_bot_wide_limit_is_30_writes_a_second() -> None:
    """Across chats the bot may write 30 times in any second."""
    limits = FloodLimits(clock=lambda: 0.0)
    admitted = [limits.admit("sendMessage", -index) is None for index in range(1, 32)]
    assert admitted == [True] * 30 + [False]


async def test_message_draft_only_in_private_chats(fake: FakeTelegram, bot: Bot) -> None:
    """sendMessageDraft streams to a private chat; a group chat is a BadRequest."""
    assert await bot.send_message_draft(PRIVATE, 7, "Partial ans") is True
    assert fake.drafts(PRIVATE)[7]["text"] == "Partial ans"
    with pytest.raises(BadRequest):
        await bot.send_message_draft(GROUP, 7, "Partial ans")
    with pytest.raises(BadRequest):
        await bot.send_message_draft(PRIVATE, 0, "Partial ans")


async def test_document_upload_and_download_round_trip(fake: FakeTelegram, bot: Bot) -> None:
    """A multipart upload is stored; getFile and the file URL give the same bytes back."""
    data = bytes(range(256)) * 4
    sent = await bot.send_document(GROUP, data, filename="log.bin", caption="the log")
    assert sent.document is not None
    assert (sent.caption, sent.document.file_name) == ("the log", "log.bin")
    assert fake.file_bytes(sent.document.file_id) == data
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == data


async def test_users_document_can_be_fetched(fake: FakeTelegram, bot: Bot) -> None:
    """A file added by the test arrives in a user's message and downloads by its file_id."""
    file_id = fake.add_file(b"# notes\n", "notes.md", "text/markdown")
    fake.user_message(PRIVATE, "read this", document=file_id)
    (update,) = await bot.get_updates()
    message = message_of(update)
    assert message.caption == "read this"
    assert message.document is not None
    file = await bot.get_file(message.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"# notes\n"


async def test_confirmed_offset_drops_earlier_updates(fake: FakeTelegram, bot: Bot) -> None:
    """Updates stay until an offset past them confirms them."""
    first = fake.user_message(PRIVATE, "one")
    fake.user_message(PRIVATE, "two")
    assert len(await bot.get_updates()) == 2
    updates = await bot.get_updates(offset=(await bot.get_updates())[0].update_id + 1)
    assert [message_of(u).text for u in updates] == ["two"]
    assert message_of(updates[0]).message_id == first["message_id"] + 1


async def test_long_poll_answers_when_an_update_arrives(fake: FakeTelegram, bot: Bot) -> None:
    """A getUpdates waiting on its timeout returns as soon as a message is injected."""
    assert await bot.get_updates(timeout=0) == ()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.wait_for(lambda: fake.waiting_polls)
    fake.user_message(PRIVATE, "wake up")
    async with asyncio.timeout(5):
        (update,) = await poll
    assert message_of(update).text == "wake up"
    assert fake.calls_to("getUpdates")[-1].params["timeout"] == 30


async def test_user_message_carries_command_and_mention_entities(
    fake: FakeTelegram, bot: Bot
) -> None:
    """A leading /command and an @mention of the bot get entities at UTF-16 offsets."""
    fake.user_message(GROUP, "/ask@parlor_test_bot 😀 @parlor_test_bot hi")
    (update,) = await bot.get_updates()
    message = message_of(update)
    kinds = [(e.type, e.offset, e.length) for e in message.entities]
    assert kinds == [("bot_command", 0, 20), ("mention", 24, 16)]
    assert message.chat.type == "supergroup"


async def test_user_edit_arrives_as_edited_message(fake: FakeTelegram, bot: Bot) -> None:
    """edit_user_message changes the stored message and queues an edited_message update."""
    sent = fake.user_message(GROUP, "helo")
    fake.edit_user_message(GROUP, sent["message_id"], "hello")
    updates = await bot.get_updates()
    assert [u.edited_message.text for u in updates if u.edited_message] == ["hello"]
    stored = fake.message(GROUP, sent["message_id"])
    assert stored is not None
    assert stored["text"] == "hello"


async def test_button_press_is_answered_once(fake: FakeTelegram, bot: Bot) -> None:
    """A callback query can be answered once; a second answer is a stale-query BadRequest."""
    sent = await bot.send_message(PRIVATE, "pick", reply_markup=keyboard("stop"))
    query = fake.press_button(PRIVATE, sent.message_id, "stop")
    (update,) = await bot.get_updates()
    assert update.callback_query is not None
    assert update.callback_query.data == "stop"
    assert await bot.answer_callback_query(query["id"], text="Stopped") is True
    assert fake.callback_answer(query["id"]) == {"text": "Stopped"}
    with pytest.raises(BadRequest, match=r"^Query is too old"):
        await bot.answer_callback_query(query["id"])


async def test_chat_member_status_is_configurable(fake: FakeTelegram, bot: Bot) -> None:
    """getChatMember answers what set_member said, as PTB's ChatMember subclasses."""
    fake.set_member(GROUP, 1001, "administrator", can_change_info=True)
    admin = await bot.get_chat_member(GROUP, 1001)
    assert isinstance(admin, ChatMemberAdministrator)
    assert admin.can_change_info is True
    assert (await bot.get_chat_member(GROUP, 1002)).status == "member"


async def test_commands_are_kept_per_scope(fake: FakeTelegram, bot: Bot) -> None:
    """setMyCommands stores a list that getMyCommands and deleteMyCommands act on."""
    assert await bot.set_my_commands([("ask", "Ask the model")]) is True
    assert [c.command for c in await bot.get_my_commands()] == ["ask"]
    assert fake.commands() == [{"command": "ask", "description": "Ask the model"}]
    await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_long_poll_delivers_an_update_to_an_application(fake: FakeTelegram) -> None:
    """An Application polling the fake runs its MessageHandler for an injected message."""
    received: list[str] = []
    handled = asyncio.Event()

    async def on_text(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        received.append(message_of(update).text or "")
        handled.set()

    application = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.api_url)
        .base_file_url(fake.file_url)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, on_text))
    updater = application.updater
    assert updater is not None
    async with application:
        await updater.start_polling(timeout=dtm.timedelta(seconds=5))
        await application.start()
        await fake.wait_for(lambda: fake.waiting_polls)
        fake.user_message(PRIVATE, "hello bot")
        async with asyncio.timeout(10):
            await handled.wait()
        await updater.stop()
        await application.stop()
    assert received == ["hello bot"]


def test_in_thread_fake_serves_another_loop() -> None:
    """in_thread runs the fake in its own loop; wait_for_sync waits from the test's thread."""

    async def send(fake: FakeTelegram) -> None:
        async with Bot(fake.token, base_url=fake.api_url) as client:
            await client.send_message(PRIVATE, "from another loop")

    with FakeTelegram.in_thread() as fake:
        fake.add_chat(PRIVATE)
        asyncio.run(send(fake))
        sent = fake.wait_for_sync(lambda: fake.messages(PRIVATE))
    assert sent[0]["text"] == "from another loop"
