"""SqlStore against real SQLite files and a real PostgreSQL: channels, turns, history, resets."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.domain import (
    ApiType,
    ChannelChanges,
    ChannelKey,
    ChatId,
    EndpointOptions,
    MessageId,
    MessageStatus,
    NewUserMessage,
    ReasoningDisplay,
    Role,
    SamplingParams,
)
from bot.core.errors import StorageError
from bot.storage.db import create_engine
from bot.storage.store import SqlStore
from bot.storage.tables import ChannelRow, ChatRow
from tests.storage.conftest import new_box, store_on

KEY = ChannelKey("discord", "1234567890")
OTHER = ChannelKey("telegram", "-100200300")


def user_message(content: str = "hello") -> NewUserMessage:
    return NewUserMessage(
        author_id="42", author_name="Ada", content=content, platform_message_id="m1"
    )


async def test_load_channel_creates_channel_and_first_chat(store: SqlStore) -> None:
    """The first sight of a channel gives it a chat and no overrides."""
    state = await store.load_channel(KEY)

    assert state.key == KEY
    assert state.connection is None
    assert state.model is None
    assert state.system_prompt is None
    assert state.params == SamplingParams()
    assert await store.history(state.chat_id, limit=10) == []


async def test_load_channel_twice_returns_the_same_chat(store: SqlStore) -> None:
    """A known channel is loaded, not created again."""
    first = await store.load_channel(KEY)
    second = await store.load_channel(KEY)

    assert second.chat_id == first.chat_id


async def test_channels_are_kept_apart(store: SqlStore) -> None:
    """Two channels get two chats."""
    assert (await store.load_channel(KEY)).chat_id != (await store.load_channel(OTHER)).chat_id


async def test_concurrent_first_loads_agree_on_one_chat(store: SqlStore) -> None:
    """Racing first loads of a new channel all succeed and see the same chat."""
    states = await asyncio.gather(*(store.load_channel(KEY) for _ in range(8)))

    assert {state.chat_id for state in states} == {states[0].chat_id}


async def test_begin_turn_stores_user_message_and_pending_reply(store: SqlStore) -> None:
    """The user's message is complete, the reply pending and empty, in that order."""
    chat = (await store.load_channel(KEY)).chat_id

    ids = await store.begin_turn(chat, user_message("hi there"))

    user, reply = await store.history(chat, limit=10)
    assert (user.id, reply.id) == (ids.user_message_id, ids.assistant_message_id)
    assert (user.role, user.content, user.status) == (Role.USER, "hi there", MessageStatus.COMPLETE)
    assert user.author_name == "Ada"
    assert (reply.role, reply.content, reply.status) == (
        Role.ASSISTANT,
        "",
        MessageStatus.PENDING,
    )


async def test_finish_turn_settles_the_reply(store: SqlStore) -> None:
    """Content, reasoning and status of the reply are stored."""
    chat = (await store.load_channel(KEY)).chat_id
    ids = await store.begin_turn(chat, user_message())

    await store.finish_turn(
        ids.assistant_message_id,
        content="General Kenobi",
        reasoning="a greeting",
        status=MessageStatus.STOPPED,
        finish_reason="stop",
    )

    reply = (await store.history(chat, limit=1))[0]
    assert (reply.content, reply.reasoning, reply.status) == (
        "General Kenobi",
        "a greeting",
        MessageStatus.STOPPED,
    )


async def test_finish_turn_of_unknown_message_raises_storage_error(store: SqlStore) -> None:
    """Settling a reply that was never begun is an error, not a silent no-op."""
    with pytest.raises(StorageError):
        await store.finish_turn(
            MessageId(987654), content="", reasoning="", status=MessageStatus.COMPLETE
        )


async def test_begin_turn_in_unknown_chat_raises_storage_error(store: SqlStore) -> None:
    """A write that breaks a foreign key surfaces as StorageError and stores nothing."""
    with pytest.raises(StorageError) as caught:
        await store.begin_turn(ChatId(987654), user_message())

    assert "hello" not in str(caught.value)


async def test_history_returns_newest_messages_oldest_first(store: SqlStore) -> None:
    """`limit` keeps the newest messages, returned in chronological order."""
    chat = (await store.load_channel(KEY)).chat_id
    for number in range(4):
        await store.begin_turn(chat, user_message(f"message {number}"))

    history = await store.history(chat, limit=3)

    assert [message.content for message in history] == ["", "message 3", ""]
    assert [message.id for message in history] == sorted(message.id for message in history)


async def test_history_with_zero_limit_is_empty(store: SqlStore) -> None:
    """A zero budget asks for nothing."""
    chat = (await store.load_channel(KEY)).chat_id
    await store.begin_turn(chat, user_message())

    assert await store.history(chat, limit=0) == []


async def test_history_timestamps_are_aware_utc(store: SqlStore) -> None:
    """Times come back timezone-aware in UTC on every backend."""
    chat = (await store.load_channel(KEY)).chat_id
    await store.begin_turn(chat, user_message())

    created = (await store.history(chat, limit=1))[0].created_at

    assert created is not None
    assert created.utcoffset() is not None
    assert created.tzinfo == UTC


async def test_model_is_loaded_back(store: SqlStore) -> None:
    """The channel's model choice is persisted, and None clears it."""
    await store.update_channel(KEY, ChannelChanges(model="llama-3.1-8b"))
    assert (await store.load_channel(KEY)).model == "llama-3.1-8b"

    await store.update_channel(KEY, ChannelChanges(model=None))
    assert (await store.load_channel(KEY)).model is None


async def test_system_prompt_is_loaded_back(store: SqlStore) -> None:
    """The channel's system prompt is persisted, and None clears it."""
    await store.update_channel(KEY, ChannelChanges(system_prompt="You are terse."))
    assert (await store.load_channel(KEY)).system_prompt == "You are terse."

    await store.update_channel(KEY, ChannelChanges(system_prompt=None))
    assert (await store.load_channel(KEY)).system_prompt is None


async def test_unchanged_fields_are_kept(store: SqlStore) -> None:
    """A partial update leaves every other setting as it was."""
    await store.update_channel(KEY, ChannelChanges(model="m", system_prompt="p"))
    await store.update_channel(KEY, ChannelChanges(reasoning_display=ReasoningDisplay.QUOTE))
    state = await store.load_channel(KEY)
    assert (state.model, state.system_prompt) == ("m", "p")
    assert state.reasoning_display is ReasoningDisplay.QUOTE


async def test_every_sampling_param_round_trips(store: SqlStore) -> None:
    """All sampling settings, stop strings and the context size come back as stored."""
    params = SamplingParams(
        temperature=0.7, top_p=0.9, top_k=40, min_p=0.05, presence_penalty=0.1,
        frequency_penalty=0.2, repetition_penalty=1.1, seed=42, stop=("\nUser:", "###"),
        max_tokens=300, context_size=8192,
    )  # fmt: skip
    await store.update_channel(KEY, ChannelChanges(params=params))
    assert (await store.load_channel(KEY)).params == params


async def test_api_type_and_template_round_trip(store: SqlStore) -> None:
    """A channel switched to text completion keeps its template."""
    changes = ChannelChanges(api_type=ApiType.TEXT, instruct_template="chatml")
    await store.update_channel(KEY, changes)
    state = await store.load_channel(KEY)
    assert (state.api_type, state.instruct_template) == (ApiType.TEXT, "chatml")


async def test_connection_options_round_trip(store: SqlStore) -> None:
    """Extra body, headers, excluded keys and learned fields are kept on the connection."""
    await store.save_connection(KEY, base_url="http://h/v1", api_key=None)
    options = EndpointOptions(
        extra_body={"top_a": 0.2, "chat_template_kwargs": {"enable_thinking": False}},
        extra_headers={"X-Title": "Parlor"},
        exclude_keys=("frequency_penalty",),
        bypass_models_check=True,
        max_tokens_field="max_completion_tokens",
    )
    await store.set_connection_options(KEY, options)
    connection = (await store.load_channel(KEY)).connection
    assert connection is not None
    assert connection.options == options


async def test_options_need_a_connection_of_the_channel(store: SqlStore) -> None:
    """On the operator's endpoint there is no connection row to hold options."""
    with pytest.raises(StorageError, match="operator"):
        await store.set_connection_options(KEY, EndpointOptions(bypass_models_check=True))


async def test_params_are_read_from_json(store: SqlStore, engine: AsyncEngine) -> None:
    """Known sampling settings of the right type are loaded; the rest is ignored."""
    await store.load_channel(KEY)
    async with engine.begin() as connection:
        await connection.execute(
            update(ChannelRow).values(
                params={
                    "temperature": 0.7,
                    "max_tokens": 256,
                    "top_p": "high",
                    "seed": 1.5,
                    "stop": ["ok", 3],
                    "bogus": 1,
                }
            )
        )

    assert (await store.load_channel(KEY)).params == SamplingParams(
        temperature=0.7, max_tokens=256, stop=("ok",)
    )


async def test_reset_chat_archives_the_old_chat_and_opens_an_empty_one(
    store: SqlStore, engine: AsyncEngine
) -> None:
    """After a reset the channel points at a new empty chat; the old one is archived, kept."""
    old = (await store.load_channel(KEY)).chat_id
    await store.begin_turn(old, user_message())

    new = await store.reset_chat(KEY)

    assert new != old
    assert (await store.load_channel(KEY)).chat_id == new
    assert await store.history(new, limit=10) == []
    assert len(await store.history(old, limit=10)) == 2
    async with engine.connect() as connection:
        rows = (await connection.execute(select(ChatRow.id, ChatRow.archived_at))).all()
    archived = dict(rows)
    assert archived[new] is None
    assert archived[old] is not None


async def test_reset_chat_of_a_new_channel_creates_it(store: SqlStore) -> None:
    """Resetting a channel never seen before leaves it on a fresh chat."""
    new = await store.reset_chat(KEY)

    assert (await store.load_channel(KEY)).chat_id == new


async def test_settle_interrupted_marks_pending_replies(store: SqlStore) -> None:
    """Pending replies left by a dead process become interrupted, and are counted."""
    chat = (await store.load_channel(KEY)).chat_id
    await store.begin_turn(chat, user_message("one"))
    await store.begin_turn(chat, user_message("two"))

    assert await store.settle_interrupted() == 2
    statuses = [message.status for message in await store.history(chat, limit=10)]
    assert statuses == [MessageStatus.COMPLETE, MessageStatus.INTERRUPTED] * 2


async def test_settle_interrupted_leaves_finished_replies_alone(store: SqlStore) -> None:
    """A settled reply is not touched, and nothing pending means zero."""
    chat = (await store.load_channel(KEY)).chat_id
    ids = await store.begin_turn(chat, user_message())
    await store.finish_turn(
        ids.assistant_message_id, content="done", reasoning="", status=MessageStatus.COMPLETE
    )

    assert await store.settle_interrupted() == 0
    assert (await store.history(chat, limit=1))[0].status == MessageStatus.COMPLETE


async def test_unknown_status_in_a_row_raises_storage_error(
    store: SqlStore, engine: AsyncEngine
) -> None:
    """A row the domain can't represent is reported, not passed on half-read."""
    chat = (await store.load_channel(KEY)).chat_id
    await store.begin_turn(chat, user_message())
    async with engine.begin() as connection:
        await connection.execute(text("UPDATE messages SET status = 'exploded'"))

    with pytest.raises(StorageError):
        await store.history(chat, limit=10)


async def test_unreachable_database_raises_storage_error() -> None:
    """A database that can't be reached is a StorageError, without the URL's password."""
    engine = create_engine("postgresql+asyncpg://parlor:hunter2@127.0.0.1:1/parlor")
    try:
        with pytest.raises(StorageError) as caught:
            await store_on(engine, new_box()).load_channel(KEY)
    finally:
        await engine.dispose()

    assert "hunter2" not in str(caught.value)
