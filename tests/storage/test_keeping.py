"""Keeping streaming replies' text on SQLite over the keeping connection of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.domain import ChannelKey, MessageStatus, NewUserMessage
from bot.core.errors import StorageError
from bot.storage.db import create_engine, create_sessions, write_lock
from bot.storage.keeping import SqliteKeeping
from bot.storage.store import SqlStore
from tests.storage.conftest import sqlite_url_in

KEY = ChannelKey("telegram", "5001")


@pytest.fixture
async def keeping_store(migrated_sqlite_url: str) -> AsyncIterator[SqlStore]:
    url = migrated_sqlite_url
    engine = create_engine(url)
    sessions = create_sessions(engine)
    keeping = SqliteKeeping.for_url(url, write_lock=write_lock(sessions))
    assert keeping is not None
    yield SqlStore(sessions, secret_box=None, keeping=keeping)
    await keeping.aclose()
    await engine.dispose()


async def test_kept_text_survives_as_an_interrupted_reply(keeping_store: SqlStore) -> None:
    """What the keeping connection wrote is what the next start settles the reply with."""
    chat = (await keeping_store.load_channel(KEY)).chat_id
    ids = await keeping_store.begin_turn(chat, NewUserMessage("7", "Ada", "a story"))
    for words in ("Once", "Once upon", "Once upon a\x00 time"):
        await keeping_store.save_partial(ids.assistant_message_id, content=words, reasoning="")
    assert await keeping_store.settle_interrupted() == 1
    reply = (await keeping_store.history(chat, limit=1))[-1]
    assert (reply.status, reply.content) == (MessageStatus.INTERRUPTED, "Once upon a time")


async def test_a_settled_reply_is_not_overwritten(keeping_store: SqlStore) -> None:
    """A keep that comes after the final write changes nothing."""
    chat = (await keeping_store.load_channel(KEY)).chat_id
    ids = await keeping_store.begin_turn(chat, NewUserMessage("7", "Ada", "hi"))
    await keeping_store.finish_turn(
        ids.assistant_message_id, content="Whole.", reasoning="", status=MessageStatus.COMPLETE
    )
    await keeping_store.save_partial(ids.assistant_message_id, content="Wh", reasoning="")
    assert await keeping_store.settle_interrupted() == 0
    assert (await keeping_store.history(chat, limit=1))[-1].content == "Whole."


async def test_a_refused_keep_is_a_storage_error(tmp_path: Path) -> None:
    """A file that is no database is refused as the store refuses it: a StorageError."""
    broken = tmp_path / "data" / "parlor.db"
    broken.parent.mkdir()
    broken.write_bytes(b"not a database at all" * 100)
    keeping = SqliteKeeping.for_url(sqlite_url_in(tmp_path), write_lock=None)
    assert keeping is not None
    with pytest.raises(StorageError, match="could not keep the reply so far"):
        await keeping.save(1, content="x", reasoning="")  # type: ignore[arg-type]
    await keeping.aclose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+asyncpg://postgres@127.0.0.1:5432/test",
        "sqlite+aiosqlite:///:memory:",
        "sqlite+aiosqlite:///file:shared?mode=memory&uri=true",
    ],
)
def test_only_a_sqlite_file_gets_a_keeping_connection(url: str) -> None:
    """Other databases keep through the store's ordinary sessions."""
    assert SqliteKeeping.for_url(url, write_lock=None) is None


async def test_a_keep_from_a_process_that_no_longer_owns_the_reply_changes_nothing(
    migrated_sqlite_url: str,
) -> None:
    """Once another process has taken the reply over (a regeneration of its own), a keep
    from the process that began it earlier is not written into that version."""
    engine = create_engine(migrated_sqlite_url)
    sessions = create_sessions(engine)
    keeping = SqliteKeeping.for_url(migrated_sqlite_url, write_lock=write_lock(sessions))
    assert keeping is not None
    try:
        now = SqlStore(sessions, secret_box=None, keeping=keeping, owner="now-writing")
        chat = (await now.load_channel(KEY)).chat_id
        ids = await now.begin_turn(chat, NewUserMessage("7", "Ada", "a story"))
        await now.save_partial(ids.assistant_message_id, content="Once", reasoning="")
        await keeping.save(ids.assistant_message_id, content="Late", reasoning="", owner="gone")
        assert await now.settle_interrupted() == 1
        assert (await now.history(chat, limit=1))[-1].content == "Once"
    finally:
        await keeping.aclose()
        await engine.dispose()
