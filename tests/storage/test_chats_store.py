"""Archived chats on both databases: listed last archived first, reopened, imported whole."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.domain import ChannelKey, MessageStatus, Role
from bot.core.errors import StorageError
from bot.core.kept_chats import ChatListing, KeptMessage, KeptVersion
from bot.storage.store import SqlStore
from tests.storage.test_replies_store import KEY, chat_of, turn

EVENING = datetime(2024, 6, 5, 21, 15, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
IMPORTED = (
    KeptMessage(Role.ASSISTANT, "Seraphina", EVENING, (KeptVersion("Evening, traveller."),)),
    KeptMessage(Role.USER, "Alex", EVENING + MINUTE, (KeptVersion("May I rest here?"),)),
    KeptMessage(
        Role.ASSISTANT,
        "Seraphina",
        EVENING + 2 * MINUTE,
        (KeptVersion("Of course.", "be kind"), KeptVersion("Sit.", "be brief")),
        shown=1,
    ),
)


async def a_chat(store: SqlStore, *replies: str) -> None:
    """The current chat answered once per reply, then archived by a reset."""
    chat = await chat_of(store)
    for reply in replies:
        await turn(store, chat, reply)
    await store.reset_chat(KEY)


async def test_a_channel_never_seen_has_no_archived_chats(store: SqlStore) -> None:
    """Listing does not create the channel, and finds nothing."""
    assert await store.archived_chats(ChannelKey("discord", "new"), limit=10) == ChatListing((), 0)


async def test_archived_chats_are_listed_last_archived_first(store: SqlStore) -> None:
    """Each with its message count and its first person's words; an empty chat (a reset of
    nothing) is not listed, and the current chat is not either."""
    await a_chat(store, "one", "two")
    await store.reset_chat(KEY)  # archives an empty chat
    await a_chat(store, "three")
    await turn(store, await chat_of(store), "current")

    listing = await store.archived_chats(KEY, limit=10)

    assert listing.total == 2
    assert [(c.number, c.message_count, c.opening) for c in listing.chats] == [
        (1, 2, "about three"),
        (2, 4, "about one"),
    ]
    first = listing.chats[1]
    assert first.started_at is not None
    assert first.ended_at is not None
    assert first.started_at.tzinfo is not None
    assert first.started_at <= first.ended_at


async def test_the_limit_cuts_the_list_but_not_the_total(store: SqlStore) -> None:
    """Only the newest `limit` are read; the total still counts them all."""
    for reply in ("a", "b", "c"):
        await a_chat(store, reply)

    listing = await store.archived_chats(KEY, limit=2)

    assert [c.opening for c in listing.chats] == ["about c", "about b"]
    assert listing.total == 3


async def test_reopening_makes_that_chat_current_and_archives_this_one(store: SqlStore) -> None:
    """History then reads the reopened chat; the one left is first in the list."""
    await a_chat(store, "old")
    await turn(store, await chat_of(store), "newer")

    reopened = await store.reopen_chat(KEY, 1)

    assert reopened is not None
    assert reopened.opening == "about old"
    history = await store.history(await chat_of(store), limit=10)
    assert [m.content for m in history] == ["about old", "old"]
    listing = await store.archived_chats(KEY, limit=10)
    assert [c.opening for c in listing.chats] == ["about newer"]


async def test_reopening_from_an_empty_chat_drops_it(store: SqlStore) -> None:
    """An empty current chat is not archived: the list holds only the other chat after."""
    await a_chat(store, "kept")
    await a_chat(store, "also kept")

    assert await store.reopen_chat(KEY, 2) is not None

    listing = await store.archived_chats(KEY, limit=10)
    assert [c.opening for c in listing.chats] == ["about also kept"]


async def test_reopening_a_number_not_listed_changes_nothing(store: SqlStore) -> None:
    """Too high, or zero: None, the same current chat, the same list."""
    await a_chat(store, "only")
    current = await chat_of(store)

    assert await store.reopen_chat(KEY, 2) is None
    assert await store.reopen_chat(KEY, 0) is None

    assert await chat_of(store) == current
    assert (await store.archived_chats(KEY, limit=10)).total == 1


async def test_an_imported_chat_becomes_current_with_every_version(store: SqlStore) -> None:
    """Names, roles, dates, order, the version shown and each version's reasoning are kept;
    the chat that was current is archived."""
    await turn(store, await chat_of(store), "before")

    chat = await store.import_chat(KEY, IMPORTED)

    assert await chat_of(store) == chat
    history = await store.history(chat, limit=10)
    assert [(m.role, m.author_name, m.content, m.created_at) for m in history] == [
        (Role.ASSISTANT, "Seraphina", "Evening, traveller.", EVENING),
        (Role.USER, "Alex", "May I rest here?", EVENING + MINUTE),
        (Role.ASSISTANT, "Seraphina", "Sit.", EVENING + 2 * MINUTE),
    ]
    assert all(m.status is MessageStatus.COMPLETE for m in history)
    assert (history[-1].reasoning, history[-1].swipe_index) == ("be brief", 1)
    versions = (await store.alternatives(chat))[history[-1].id]
    assert [(v.content, v.reasoning) for v in versions] == [
        ("Of course.", "be kind"),
        ("Sit.", "be brief"),
    ]
    listing = await store.archived_chats(KEY, limit=10)
    assert [c.opening for c in listing.chats] == ["about before"]


async def test_an_import_that_fails_part_way_changes_nothing(store: SqlStore) -> None:
    """A message the database refuses (a date without a zone) undoes the archiving too."""
    await turn(store, await chat_of(store), "kept")
    current = await chat_of(store)
    naive = KeptMessage(Role.USER, "Alex", datetime(2024, 6, 5), (KeptVersion("hi"),))

    with pytest.raises(StorageError):
        await store.import_chat(KEY, (*IMPORTED, naive))

    assert await chat_of(store) == current
    assert (await store.archived_chats(KEY, limit=10)).total == 0
    assert [m.content for m in await store.history(current, limit=10)] == ["about kept", "kept"]


async def test_an_imported_text_the_database_cannot_hold_is_made_storable(
    store: SqlStore,
) -> None:
    """A file's NUL characters and lone surrogates (legal in JSON) do not fail the import:
    NUL goes, a lone surrogate becomes U+FFFD, in texts, names and swipes alike."""
    odd = (
        KeptMessage(Role.USER, "A\x00lex", EVENING, (KeptVersion("hi\x00 \ud800"),)),
        KeptMessage(
            Role.ASSISTANT,
            "Sera",
            EVENING,
            (KeptVersion("one\x00", "th\ud800ink"), KeptVersion("two")),
        ),
    )

    chat = await store.import_chat(KEY, odd)

    history = await store.history(chat, limit=10)
    assert [(m.author_name, m.content) for m in history] == [
        ("Alex", "hi \ufffd"),
        ("Sera", "one"),
    ]
    versions = (await store.alternatives(chat))[history[1].id]
    assert [(v.content, v.reasoning) for v in versions] == [("one", "th\ufffdink"), ("two", "")]


async def test_a_threads_archived_chats_are_its_own(store: SqlStore) -> None:
    """A thread lists, reopens and imports its own chats, never its channel's."""
    thread = ChannelKey("discord", "201", parent_id=KEY.external_id)
    await a_chat(store, "in the channel")
    await turn(store, (await store.load_channel(thread)).chat_id, "in the thread")
    await store.reset_chat(thread)

    listed = await store.archived_chats(thread, limit=10)
    assert [c.opening for c in listed.chats] == ["about in the thread"]

    await store.import_chat(thread, IMPORTED)
    assert await store.reopen_chat(thread, 1) is not None

    history = await store.history((await store.load_channel(thread)).chat_id, limit=10)
    assert [m.content for m in history] == ["about in the thread", "in the thread"]
    listed = await store.archived_chats(thread, limit=10)
    assert [c.opening for c in listed.chats] == ["May I rest here?"]
    channel = await store.archived_chats(KEY, limit=10)
    assert [c.opening for c in channel.chats] == ["about in the channel"]
