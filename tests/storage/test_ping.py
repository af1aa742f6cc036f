"""The readiness ping: True while the database answers, False (never an exception) when not."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.storage.db import create_engine
from bot.storage.store import SqlStore
from tests.storage.conftest import new_box, store_on

PASSWORD = "pw-that-must-not-be-logged"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def silent_server() -> AsyncIterator[int]:
    """A TCP port that accepts connections and never says a word: a hung database."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield int(server.sockets[0].getsockname()[1])
    for writer in held:
        writer.close()
    server.close()
    await server.wait_closed()


async def postgres_store_at(port: int) -> tuple[SqlStore, AsyncEngine]:
    engine = create_engine(f"postgresql+asyncpg://parlor:{PASSWORD}@127.0.0.1:{port}/parlor")
    return store_on(engine, new_box()), engine


async def test_a_database_that_answers_is_ready(engine: AsyncEngine) -> None:
    """SQLite and PostgreSQL both answer the ping."""
    assert await store_on(engine, new_box()).ping() is True


async def test_a_closed_port_is_not_ready_and_the_log_keeps_the_password_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Nothing listening: False, and no log line quotes the URL's password."""
    store, engine = await postgres_store_at(closed_port())
    try:
        with caplog.at_level(logging.DEBUG):
            assert await store.ping() is False
    finally:
        await engine.dispose()
    assert PASSWORD not in caplog.text


async def test_a_database_that_never_answers_is_not_ready(silent_server: int) -> None:
    """A hung server costs the ping its timeout, then False."""
    store, engine = await postgres_store_at(silent_server)
    try:
        assert await store.ping(timeout_seconds=0.2) is False
    finally:
        await engine.dispose()
