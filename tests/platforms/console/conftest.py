"""The console session in-process needs a store: a migrated SQLite copy without a key box."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import Stores, sql_stores
from bot.storage.db import create_engine, create_sessions
from bot.storage.store import SqlStore


@pytest.fixture
async def stores(migrated_sqlite_url: str) -> AsyncIterator[Stores[SqlStore]]:
    engine = create_engine(migrated_sqlite_url)
    yield sql_stores(create_sessions(engine), secret_box=None)
    await engine.dispose()
