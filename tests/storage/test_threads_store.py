"""Threads on both databases: a thread keeps its own history and uses its channel's settings."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.characters.schema import card_from_json
from bot.core.domain import (
    ChannelChanges,
    ChannelKey,
    EndpointOptions,
    NewUserMessage,
    SamplingParams,
    Secret,
)
from bot.storage.characters import SqlCharacters
from bot.storage.db import create_sessions
from bot.storage.profiles import SqlProfiles
from bot.storage.secrets import SecretBox
from bot.storage.store import SqlStore
from bot.storage.tables import ChatRow

CHANNEL = ChannelKey("discord", "100")
THREAD = ChannelKey("discord", "201", parent_id="100")
SIBLING = ChannelKey("discord", "202", parent_id="100")
SCOPE = "server:discord:g1"
SECRET = "sk-thread-test-key-0042"


@pytest.fixture
def profiles(engine: AsyncEngine, secret_box: SecretBox) -> SqlProfiles:
    return SqlProfiles(create_sessions(engine), secret_box=secret_box)


@pytest.fixture
def characters(engine: AsyncEngine) -> SqlCharacters:
    return SqlCharacters(create_sessions(engine), secret_box=None)


def said(content: str, *, message_id: str = "m1") -> NewUserMessage:
    return NewUserMessage(
        author_id="42", author_name="Ada", content=content, platform_message_id=message_id
    )


async def contents(store: SqlStore, key: ChannelKey) -> list[str]:
    chat = (await store.load_channel(key)).chat_id
    return [message.content for message in await store.history(chat, limit=10)]


async def test_thread_uses_the_channels_connection_model_and_character(
    store: SqlStore, characters: SqlCharacters
) -> None:
    """A thread first seen after its channel was set up talks as the channel does."""
    alice = await characters.save_character(
        SCOPE, card_from_json({"spec": "chara_card_v2", "data": {"name": "Alice"}}), None
    )
    await store.save_connection(CHANNEL, base_url="http://h.example/v1", api_key=Secret(SECRET))
    await store.update_channel(
        CHANNEL,
        ChannelChanges(model="m1", system_prompt="Be brief.", character_id=alice.id),
    )

    thread = await store.load_channel(THREAD)

    assert thread.connection is not None
    assert thread.connection.base_url == "http://h.example/v1"
    assert thread.connection.api_key == Secret(SECRET)
    assert (thread.model, thread.system_prompt, thread.character_id) == (
        "m1",
        "Be brief.",
        alice.id,
    )


async def test_thread_sees_a_later_change_of_its_channel(store: SqlStore) -> None:
    """Settings are read live: a change made in the channel shows at the thread's next load."""
    await store.load_channel(THREAD)

    await store.save_connection(CHANNEL, base_url="http://h.example/v1", api_key=None)
    await store.update_channel(CHANNEL, ChannelChanges(model="m2", answer_all=True))

    thread = await store.load_channel(THREAD)
    assert thread.connection is not None
    assert thread.connection.base_url == "http://h.example/v1"
    assert (thread.model, thread.answer_all) == ("m2", True)


async def test_thread_keeps_its_own_key_and_chat(store: SqlStore) -> None:
    """The state is the thread's: its key (parent included) and a chat of its own."""
    thread = await store.load_channel(THREAD)
    channel = await store.load_channel(CHANNEL)

    assert thread.key == THREAD
    assert thread.key.parent_id == "100"
    assert thread.chat_id != channel.chat_id


async def test_thread_history_is_apart_from_channel_and_sibling(store: SqlStore) -> None:
    """What is said in a thread stays in it: not in its channel, not in a sibling thread.

    Each history is the user's message and the pending reply `begin_turn` opened."""
    for key, text in ((CHANNEL, "in the channel"), (THREAD, "in a thread"), (SIBLING, "beside")):
        await store.begin_turn((await store.load_channel(key)).chat_id, said(text))

    assert await contents(store, CHANNEL) == ["in the channel", ""]
    assert await contents(store, THREAD) == ["in a thread", ""]
    assert await contents(store, SIBLING) == ["beside", ""]


async def test_reset_in_a_thread_archives_only_its_chat(
    store: SqlStore, engine: AsyncEngine
) -> None:
    """/reset in a thread starts the thread over; the channel and a sibling keep theirs."""
    before = {key: (await store.load_channel(key)).chat_id for key in (CHANNEL, THREAD, SIBLING)}

    fresh = await store.reset_chat(THREAD)

    assert (await store.load_channel(THREAD)).chat_id == fresh
    assert (await store.load_channel(CHANNEL)).chat_id == before[CHANNEL]
    assert (await store.load_channel(SIBLING)).chat_id == before[SIBLING]
    async with engine.connect() as connection:
        archived = {
            chat
            for (chat,) in await connection.execute(
                select(ChatRow.id).where(ChatRow.archived_at.is_not(None))
            )
        }
    assert archived == {before[THREAD]}


async def test_setting_changed_in_a_thread_changes_the_channel_and_siblings(
    store: SqlStore,
) -> None:
    """A setting written with a thread's key is the channel's, so every thread follows."""
    await store.update_channel(
        THREAD, ChannelChanges(model="m3", params=SamplingParams(temperature=0.5))
    )

    for key in (CHANNEL, THREAD, SIBLING):
        state = await store.load_channel(key)
        assert (state.model, state.params.temperature) == ("m3", 0.5)


async def test_connection_set_in_a_thread_is_the_channels(store: SqlStore) -> None:
    """/connect, its learned options and /connect default in a thread act on the channel."""
    await store.save_connection(THREAD, base_url="http://h.example/v1", api_key=Secret(SECRET))
    await store.set_connection_options(SIBLING, EndpointOptions(max_tokens_field="max_tokens"))

    channel = (await store.load_channel(CHANNEL)).connection
    assert channel is not None
    assert channel.api_key == Secret(SECRET)
    assert channel.options.max_tokens_field == "max_tokens"

    await store.clear_connection(THREAD)

    assert (await store.load_channel(CHANNEL)).connection is None
    assert (await store.load_channel(SIBLING)).connection is None


async def test_thread_messages_are_edited_in_the_thread(store: SqlStore) -> None:
    """An edit in a thread changes its message, not the channel's message of the same id."""
    await store.begin_turn((await store.load_channel(CHANNEL)).chat_id, said("channel"))
    await store.begin_turn((await store.load_channel(THREAD)).chat_id, said("thread"))

    assert await store.edit_user_message(THREAD, "m1", "thread, edited")

    assert (await contents(store, THREAD))[0] == "thread, edited"
    assert (await contents(store, CHANNEL))[0] == "channel"


async def test_profile_used_in_a_thread_is_the_channels(
    store: SqlStore, profiles: SqlProfiles
) -> None:
    """/profile use in a thread switches the channel, and the profile counts one user."""
    await profiles.save_profile(
        SCOPE, "home", channel=CHANNEL, base_url="http://p.example/v1", api_key=None, model="pm"
    )

    assert await profiles.use_profile(THREAD, SCOPE, "home")

    for key in (CHANNEL, SIBLING):
        connection = (await store.load_channel(key)).connection
        assert connection is not None
        assert (connection.name, connection.model) == ("home", "pm")
    assert [summary.channels_using for summary in await profiles.list_profiles(SCOPE)] == [1]


async def test_profile_saved_in_a_thread_copies_the_channels_connection(
    store: SqlStore, profiles: SqlProfiles
) -> None:
    """/profile save without a URL in a thread saves the connection the thread uses."""
    await store.save_connection(CHANNEL, base_url="http://h.example/v1", api_key=Secret(SECRET))

    await profiles.save_profile(
        SCOPE, "copy", channel=THREAD, base_url=None, api_key=None, model=None
    )

    [summary] = await profiles.list_profiles(SCOPE)
    assert (summary.base_url, summary.key_hint) == ("http://h.example/v1", "sk-…0042")
