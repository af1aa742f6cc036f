"""A fresh, migrated database per test, on SQLite and on PostgreSQL.

PostgreSQL comes from TEST_POSTGRES_URL; when it is unreachable its tests are
skipped, unless REQUIRE_POSTGRES=1 (CI), which makes them fail instead.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.storage.db import create_engine, create_sessions
from bot.storage.migrate import upgrade_to_head
from bot.storage.secrets import SecretBox
from bot.storage.store import SqlStore

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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty database: a new SQLite file, or a wiped PostgreSQL schema."""
    if request.param == "sqlite":
        return sqlite_url_in(tmp_path)
    await reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


@pytest.fixture
async def migrated_url(empty_url: str) -> str:
    await upgrade_to_head(empty_url)
    return empty_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def secret_box() -> SecretBox:
    return new_box()


@pytest.fixture
def store(engine: AsyncEngine, secret_box: SecretBox) -> SqlStore:
    return store_on(engine, secret_box)
