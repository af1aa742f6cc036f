"""Erasure on both databases: a person's rows everywhere on a platform, or a channel's
history; and on SQLite, nothing of them left in the file's bytes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import make_url, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.core.domain import (
    ChannelKey,
    ChatId,
    MessageStatus,
    NewUserMessage,
    Persona,
    Secret,
    TokenSource,
    TokenTally,
    UsageEntry,
)
from bot.core.errors import UsageError
from bot.core.quotas import Admission
from bot.storage.db import create_sessions
from bot.storage.erasure import SqlErasure
from bot.storage.personas import SqlPersonas
from bot.storage.quotas import SqlQuotas
from bot.storage.store import SqlStore
from bot.storage.tables import Base, MessageRow
from bot.storage.usage import SqlUsage

USER = "u-738291"
SECRET_TEXT = "my-quokka-password-hint"
PLATFORM = "test"
GROUP = ChannelKey(PLATFORM, "group-1")
OTHER_GROUP = ChannelKey(PLATFORM, "group-2")
PRIVATE = ChannelKey(PLATFORM, USER)
MARKER = "[removed]"


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessions(engine)


@pytest.fixture
def erasure(sessions: async_sessionmaker[AsyncSession]) -> SqlErasure:
    return SqlErasure(sessions, secret_box=None)


async def said(
    store: SqlStore, chat: ChatId, text: str, *, author: str = USER, image: str | None = None
) -> None:
    images = (image,) if image else ()
    message = NewUserMessage(author, f"Name of {author}", text, f"pm-{author}-{text}", images)
    ids = await store.begin_turn(chat, message)
    await store.finish_turn(
        ids.assistant_message_id, content="a reply", reasoning="", status=MessageStatus.COMPLETE
    )


def usage(user: str, platform: str = PLATFORM) -> UsageEntry:
    tally = TokenTally(1, TokenSource.ENDPOINT)
    return UsageEntry(
        created_at=datetime.now(UTC),
        platform=platform,
        user_id=user,
        server=None,
        channel="group-1",
        model="m",
        endpoint_host="example",
        trusted=True,
        prompt_tokens=tally,
        completion_tokens=tally,
        duration_seconds=1.0,
        status=MessageStatus.COMPLETE,
    )


async def every_value(sessions: async_sessionmaker[AsyncSession]) -> str:
    """Every row of every table, as text: what a search of the database would find."""
    found: list[str] = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            rows = (await session.execute(select(table))).all()
            found.extend(repr(tuple(row)) for row in rows)
    return "\n".join(found)


async def kept_about_someone(store: SqlStore, sessions: async_sessionmaker[AsyncSession]) -> None:
    """The person wrote in two groups (once with an image) and in a private chat with its
    own key, has a persona and usage; "bob" wrote too, and the person exists on another
    platform."""
    group = (await store.load_channel(GROUP)).chat_id
    await said(store, group, f"first {SECRET_TEXT}", image="data:image/png;base64,QUJD")
    await said(store, group, "bob's line", author="bob")
    await store.reset_chat(GROUP)  # the person's first message is now archived
    await said(store, (await store.load_channel(GROUP)).chat_id, f"again {SECRET_TEXT}")
    await said(store, (await store.load_channel(OTHER_GROUP)).chat_id, f"hi {SECRET_TEXT}")
    await said(store, (await store.load_channel(PRIVATE)).chat_id, f"alone {SECRET_TEXT}")
    await store.save_connection(
        PRIVATE, base_url="http://x.example/v1", api_key=Secret("sk-1234567890")
    )
    elsewhere = ChannelKey("other", "g")
    chat = (await store.load_channel(elsewhere)).chat_id
    await said(store, chat, "kept elsewhere", author="carol")
    personas = SqlPersonas(sessions, secret_box=None)
    await personas.set_persona(PLATFORM, USER, Persona(f"Quokka {SECRET_TEXT}", "desc"))
    await personas.set_persona(PLATFORM, "bob", Persona("Bob", ""))
    ledger = SqlUsage(sessions, secret_box=None)
    for entry in (usage(USER), usage(USER), usage("bob"), usage("carol", "other")):
        await ledger.record(entry)
    quotas = SqlQuotas(sessions, secret_box=None)
    for user in (USER, "bob"):  # a message each, counted against a per-minute limit
        await quotas.admit(Admission(datetime.now(UTC), PLATFORM, user, "g", "group-1"), [])


async def test_erasing_a_person_leaves_no_row_with_their_id_or_text(
    store: SqlStore, sessions: async_sessionmaker[AsyncSession], erasure: SqlErasure
) -> None:
    """Their shared messages read as the marker with no author, image or platform id;
    their private chat, persona and usage are gone; bob's rows and the other platform's
    stay; the counts say what went."""
    await kept_about_someone(store, sessions)
    before = await erasure.user_rows(PLATFORM, USER)

    erased = await erasure.erase_user(PLATFORM, USER, marker=MARKER)

    expected = {
        "messages": 3,
        "private_chats": 1,
        "private_messages": 2,
        "personas": 1,
        "usage": 2,
        "quota_admissions": 1,
    }
    assert before == expected
    assert erased == expected
    everything = await every_value(sessions)
    assert USER not in everything
    assert SECRET_TEXT not in everything
    assert "QUJD" not in everything
    assert "bob's line" in everything
    assert "kept elsewhere" in everything
    async with sessions() as session:
        marked = (
            await session.scalars(select(MessageRow).where(MessageRow.content == MARKER))
        ).all()
    assert len(marked) == 3
    assert {(m.author_id, m.author_name, m.images, m.platform_message_ids) for m in marked} == {
        (None, None, None, None)
    }
    assert await erasure.user_rows(PLATFORM, USER) == dict.fromkeys(expected, 0)


async def test_the_conversation_still_reads_with_the_marker(
    store: SqlStore, sessions: async_sessionmaker[AsyncSession], erasure: SqlErasure
) -> None:
    """History keeps the erased message's place, between the others."""
    await kept_about_someone(store, sessions)
    await erasure.erase_user(PLATFORM, USER, marker=MARKER)

    history = await store.history((await store.load_channel(GROUP)).chat_id, limit=10)

    assert [(m.role.value, m.content) for m in history] == [
        ("user", MARKER),
        ("assistant", "a reply"),
    ]


async def test_erasing_a_channel_removes_its_history_and_archived_chats(
    store: SqlStore, sessions: async_sessionmaker[AsyncSession], erasure: SqlErasure
) -> None:
    """Every chat of the channel goes but an empty current one; other channels stay."""
    await kept_about_someone(store, sessions)
    assert await erasure.channel_rows(GROUP) == {"chats": 2, "messages": 6}

    erased = await erasure.erase_channel(GROUP)

    assert erased == {"chats": 1, "messages": 6}
    state = await store.load_channel(GROUP)
    assert await store.history(state.chat_id, limit=10) == []
    assert await erasure.channel_rows(GROUP) == {"chats": 1, "messages": 0}
    other = await store.history((await store.load_channel(OTHER_GROUP)).chat_id, limit=10)
    assert len(other) == 2


async def test_a_channel_is_not_erased_while_a_reply_is_written(
    store: SqlStore, erasure: SqlErasure
) -> None:
    """A pending reply belongs to a running turn: the erasure waits for a later confirm."""
    chat = (await store.load_channel(GROUP)).chat_id
    await store.begin_turn(chat, NewUserMessage(USER, "Ann", "hi"))

    with pytest.raises(UsageError, match="being written"):
        await erasure.erase_channel(GROUP)

    assert len(await store.history(chat, limit=10)) == 2


async def test_nothing_of_the_person_is_left_in_the_sqlite_file(
    fresh_url: str,
    store: SqlStore,
    sessions: async_sessionmaker[AsyncSession],
    erasure: SqlErasure,
) -> None:
    """secure_delete zeroes what was erased, and the log is emptied: a byte search of the
    database file (and its log) finds neither their id nor their text."""
    if make_url(fresh_url).get_backend_name() != "sqlite":
        pytest.skip("a byte search of a file is SQLite's test")
    await kept_about_someone(store, sessions)
    path = Path(make_url(fresh_url).database or "")
    assert SECRET_TEXT.encode() in _bytes_of(path)  # the search would find it

    await erasure.erase_user(PLATFORM, USER, marker=MARKER)

    data = _bytes_of(path)
    assert SECRET_TEXT.encode() not in data
    assert USER.encode() not in data


def _bytes_of(database: Path) -> bytes:
    files = [database, database.with_name(database.name + "-wal")]
    return b"".join(f.read_bytes() for f in files if f.exists())
