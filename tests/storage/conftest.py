"""A fresh, migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL comes from TEST_POSTGRES_URL; when it is unreachable its tests are
skipped, unless REQUIRE_POSTGRES=1 (CI), which makes them fail instead. Each test
session works in databases of its own on that server, so two runs at once (two
developers, or a developer and CI) never wipe each other's tables.

Migrating is slow next to a test, so it happens once per session: SQLite tests get a copy
of a migrated file (tests/conftest.py), PostgreSQL tests a migrated database emptied with
TRUNCATE. Only the tests of the migrations (`empty_url`, `migrated_url`) migrate each time.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import URL, make_url, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.storage.db import create_engine, create_sessions
from bot.storage.migrate import upgrade_to_head
from bot.storage.secrets import SecretBox
from bot.storage.store import SqlStore
from bot.storage.tables import Base

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
POSTGRES_CONNECT_TIMEOUT_SECONDS = 3


async def reset_postgres(url: str) -> None:
    """Drop every table, sequence and type, leaving an empty public schema."""
    engine = create_async_engine(url, connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS})
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    except (OSError, SQLAlchemyError) as exc:
        reason = f"PostgreSQL at TEST_POSTGRES_URL is unavailable: {type(exc).__name__}: {exc}"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    finally:
        await engine.dispose()


def sqlite_url_in(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory / 'parlor.db'}"


def new_box(*keys: str) -> SecretBox:
    return SecretBox.from_keys(list(keys) or [Fernet.generate_key().decode()])


def store_on(engine: AsyncEngine, box: SecretBox | None) -> SqlStore:
    return SqlStore(create_sessions(engine), secret_box=box)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database created for this test session on the server, dropped at its end."""
    yield from _session_database()


@pytest.fixture(scope="session")
def postgres_migrated_url() -> Iterator[str]:
    """A second session database, migrated once; `fresh_url` empties its tables per test."""
    for url in _session_database():
        _in_own_loop(upgrade_to_head(url))
        yield url


def _session_database() -> Iterator[str]:
    name = f"parlor_test_{os.getpid()}_{secrets.token_hex(4)}"
    server = make_url(POSTGRES_URL)
    try:
        _in_own_loop(_admin(server, f'CREATE DATABASE "{name}"'))
    except (OSError, SQLAlchemyError) as exc:
        reason = f"PostgreSQL at TEST_POSTGRES_URL is unavailable: {type(exc).__name__}: {exc}"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    yield server.set(database=name).render_as_string(hide_password=False)
    _in_own_loop(_admin(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _in_own_loop(work: Coroutine[object, object, None]) -> None:
    """Run on a thread of its own: the fixture may be asked for inside a test's loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, work).result()


async def _admin(server: URL, statement: str) -> None:
    engine = create_async_engine(
        server,
        isolation_level="AUTOCOMMIT",  # CREATE/DROP DATABASE cannot run in a transaction
        connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
    )
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file, or a wiped PostgreSQL schema."""
    if request.param == "sqlite":
        return sqlite_url_in(tmp_path)
    url = str(request.getfixturevalue("postgres_url"))
    await reset_postgres(url)
    return url


@pytest.fixture
async def migrated_url(empty_url: str) -> str:
    await upgrade_to_head(empty_url)
    return empty_url


async def empty_tables(url: str) -> None:
    """Delete every row and restart every id sequence, keeping the migrated schema.

    The migrations insert no rows, so this leaves what a fresh migration would.
    """
    engine = create_async_engine(url)
    try:
        async with engine.begin() as connection:
            tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def fresh_url(request: pytest.FixtureRequest) -> str:
    """The URL of a database at the newest revision with no rows, this test's alone."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("migrated_sqlite_url"))
    url = str(request.getfixturevalue("postgres_migrated_url"))
    await empty_tables(url)
    return url


@pytest.fixture
async def engine(fresh_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(fresh_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def secret_box() -> SecretBox:
    return new_box()


@pytest.fixture
def store(engine: AsyncEngine, secret_box: SecretBox) -> SqlStore:
    return store_on(engine, secret_box)
