"""Edited and deleted user messages, found by the platform's id, on both databases."""

from __future__ import annotations

from bot.core.domain import ChannelKey, MessageStatus, NewUserMessage
from bot.storage.store import SqlStore

KEY = ChannelKey("telegram", "-100")
OTHER = ChannelKey("telegram", "-200")


async def say(store: SqlStore, key: ChannelKey, text: str, platform_id: str) -> None:
    state = await store.load_channel(key)
    message = NewUserMessage("7", "Ann", text, platform_message_id=platform_id)
    ids = await store.begin_turn(state.chat_id, message)
    await store.finish_turn(
        ids.assistant_message_id, content="ok", reasoning="", status=MessageStatus.COMPLETE
    )


async def contents(store: SqlStore, key: ChannelKey) -> list[str]:
    state = await store.load_channel(key)
    return [m.content for m in await store.history(state.chat_id, limit=50)]


async def test_an_edit_replaces_the_stored_text(store: SqlStore) -> None:
    await say(store, KEY, "helo", "11")
    await say(store, KEY, "second", "12")
    assert await store.edit_user_message(KEY, "11", "hello")
    assert await contents(store, KEY) == ["hello", "ok", "second", "ok"]


async def test_a_deleted_message_leaves_the_history(store: SqlStore) -> None:
    await say(store, KEY, "oops", "21")
    await say(store, KEY, "kept", "22")
    assert await store.forget_user_message(KEY, "21")
    assert await contents(store, KEY) == ["ok", "kept", "ok"]


async def test_unknown_ids_and_other_channels_change_nothing(store: SqlStore) -> None:
    """The same platform id in another channel is another message; an unknown one is
    reported, not guessed."""
    await say(store, KEY, "mine", "31")
    await say(store, OTHER, "theirs", "31")
    assert not await store.edit_user_message(KEY, "99", "x")
    assert not await store.forget_user_message(KEY, "99")
    assert await store.edit_user_message(OTHER, "31", "changed")
    assert await contents(store, KEY) == ["mine", "ok"]
    assert await contents(store, OTHER) == ["changed", "ok"]


async def test_an_archived_chat_is_left_alone(store: SqlStore) -> None:
    """After /reset, editing a message of the old conversation changes nothing."""
    await say(store, KEY, "old", "41")
    await store.reset_chat(KEY)
    assert not await store.edit_user_message(KEY, "41", "new")
    assert await contents(store, KEY) == []
