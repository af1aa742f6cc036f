"""Every kept version of a chat's replies, on both databases, for a chat file's swipes."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.domain import MessageStatus, StoredMessage
from bot.storage.store import SqlStore
from tests.storage.test_replies_store import GREETINGS, KEY, chat_of, regenerate, turn


def versions(found: Sequence[StoredMessage]) -> list[tuple[str, MessageStatus, int, int]]:
    return [(v.content, v.status, v.swipe_index, v.swipe_count) for v in found]


async def test_replies_with_versions_list_them_all_in_order(store: SqlStore) -> None:
    """A regenerated reply lists its versions (a failed one too, marked so); a reply with
    one version is not listed, and neither is another chat's."""
    chat = await chat_of(store)
    plain = await turn(store, chat, "only answer")
    redone = await turn(store, chat, "first answer", reasoning="think")
    await regenerate(store, chat, "second answer")
    await regenerate(store, chat, "broken half", MessageStatus.ERROR)

    found = await store.alternatives(chat)

    assert plain not in found
    assert versions(found[redone]) == [
        ("first answer", MessageStatus.COMPLETE, 0, 3),
        ("second answer", MessageStatus.COMPLETE, 1, 3),
        ("broken half", MessageStatus.ERROR, 2, 3),
    ]
    assert found[redone][0].reasoning == "think"
    assert all(v.id == redone and v.created_at is not None for v in found[redone])
    other = await store.reset_chat(KEY)
    assert await store.alternatives(other) == {}


async def test_greetings_are_the_opening_reply_versions(store: SqlStore) -> None:
    """A chat opened with several greetings lists them as its first reply's versions."""
    chat = await store.reset_chat(KEY, greetings=GREETINGS, chosen=1)
    opening = (await store.history(chat, limit=1))[0]

    found = await store.alternatives(chat)

    assert [v.content for v in found[opening.id]] == GREETINGS
    assert opening.swipe_index == 1
