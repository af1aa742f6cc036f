"""The engine on SQLite: directory creation, pragmas, and how transactions begin."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import READ_ONLY_OPTION, SQLITE_BUSY_TIMEOUT_MS, create_engine, create_sessions


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'parlor.db'}")
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        await connection.execute(text("INSERT INTO counter (id, n) VALUES (1, 0)"))
    yield engine
    await engine.dispose()


def can_take_write_lock(path: Path) -> bool:
    """Whether another connection can start writing right now (without waiting)."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()
    return True


async def test_parent_directory_of_the_file_is_created(tmp_path: Path) -> None:
    """A fresh data directory needs no manual mkdir."""
    path = tmp_path / "data" / "nested" / "parlor.db"
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()

    assert path.exists()


async def test_pragmas_are_in_effect(sqlite_engine: AsyncEngine) -> None:
    """WAL, synchronous NORMAL, foreign keys, busy_timeout and secure_delete (erased text is
    zeroed in the file) are set on every connection."""
    async with sqlite_engine.connect() as connection:

        async def pragma(name: str) -> object:
            return (await connection.exec_driver_sql(f"PRAGMA {name}")).scalar()

        assert await pragma("journal_mode") == "wal"
        assert await pragma("synchronous") == 1
        assert await pragma("foreign_keys") == 1
        assert await pragma("busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
        assert await pragma("secure_delete") == 1


async def test_write_transactions_take_the_write_lock_at_begin(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    """A transaction holds the write lock from BEGIN (IMMEDIATE), before it writes."""
    async with create_sessions(sqlite_engine)() as session, session.begin():
        await session.execute(text("SELECT n FROM counter"))

        assert not can_take_write_lock(tmp_path / "parlor.db")


async def test_read_only_sessions_leave_the_write_lock_free(
    sqlite_engine: AsyncEngine, tmp_path: Path
) -> None:
    """A session marked read-only begins DEFERRED and never blocks a writer."""
    sessions = create_sessions(sqlite_engine)
    async with sessions(execution_options={READ_ONLY_OPTION: True}) as session:
        await session.execute(text("SELECT n FROM counter"))

        assert can_take_write_lock(tmp_path / "parlor.db")


async def test_concurrent_read_modify_write_transactions_both_succeed(
    sqlite_engine: AsyncEngine,
) -> None:
    """Two transactions that read then write wait for each other: no SQLITE_BUSY, no lost update."""
    sessions = create_sessions(sqlite_engine)

    async def increment() -> None:
        async with sessions() as session, session.begin():
            value = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
            await asyncio.sleep(0.05)
            await session.execute(text("UPDATE counter SET n = :n"), {"n": value + 1})

    await asyncio.gather(increment(), increment())

    async with sqlite_engine.connect() as connection:
        assert (await connection.execute(text("SELECT n FROM counter"))).scalar_one() == 2
