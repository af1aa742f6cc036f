"""The console session in-process needs a store: a migrated SQLite copy without a key box."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.storage.db import create_engine, create_sessions
from bot.storage.store import SqlStore


@pytest.fixture
async def store(migrated_sqlite_url: str) -> AsyncIterator[SqlStore]:
    engine = create_engine(migrated_sqlite_url)
    yield SqlStore(create_sessions(engine), secret_box=None)
    await engine.dispose()
