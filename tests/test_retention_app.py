"""Retention as the running app does it: started with the app when RETENTION_DAYS is set,
deleting what is old, and stopped when the app closes."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.app import Parlor
from bot.core.domain import ChannelKey, NewUserMessage
from bot.storage.db import create_engine, create_sessions
from bot.storage.store import SqlStore
from tests.conftest import copy_of_template
from tests.fakes.bot_thread import settings_from
from tests.fakes.console_process import bot_env

TIMEOUT_SECONDS = 20.0


async def seeded(database: Path) -> None:
    """One message from 40 days ago and one from today, in a channel's current chat."""
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    store = SqlStore(create_sessions(engine), secret_box=None)
    chat = (await store.load_channel(ChannelKey("console", "c"))).chat_id
    await store.begin_turn(chat, NewUserMessage("ann", "Ann", "from long ago"))
    await store.begin_turn(chat, NewUserMessage("ann", "Ann", "from today"))
    await engine.dispose()
    old = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%d %H:%M:%S.000000")
    with sqlite3.connect(database) as db:
        db.execute("UPDATE messages SET created_at = ? WHERE content = 'from long ago'", (old,))
        db.execute("UPDATE messages SET status = 'complete'")


def contents(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        return [row[0] for row in db.execute("SELECT content FROM messages WHERE role = 'user'")]


async def left(database: Path, expected: list[str]) -> None:
    """Until the file holds `expected`: polled, as the file tells no one it changed."""
    while True:
        if contents(database) == expected:
            return
        await asyncio.sleep(0.02)


def retention_running() -> bool:
    return any(t.get_name() == "retention" and not t.done() for t in asyncio.all_tasks())


async def test_the_app_deletes_old_rows_while_open_and_stops_retention_at_close(
    tmp_path: Path, migrated_template: Path
) -> None:
    """With RETENTION_DAYS=30 the open app deletes the 40-day-old message, keeps today's, and
    its retention task is gone once the app is closed."""
    database = tmp_path / "data" / "parlor.db"
    database.parent.mkdir()
    copy_of_template(migrated_template, database)
    await seeded(database)
    settings = settings_from(bot_env(tmp_path, RETENTION_DAYS="30"))

    async with Parlor(settings):
        assert retention_running()
        async with asyncio.timeout(TIMEOUT_SECONDS):
            await left(database, ["from today"])
    assert not retention_running()


async def test_retention_is_off_by_default(tmp_path: Path, migrated_template: Path) -> None:
    database = tmp_path / "data" / "parlor.db"
    database.parent.mkdir()
    copy_of_template(migrated_template, database)
    async with Parlor(settings_from(bot_env(tmp_path))):
        assert not retention_running()
