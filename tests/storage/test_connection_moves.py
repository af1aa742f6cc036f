"""What the log says when a channel's connection moves: to another host, or only another path."""

from __future__ import annotations

import logging

import pytest

from bot.core.domain import ChannelKey, Secret
from bot.storage.store import SqlStore

KEY = ChannelKey("test", "moves")


async def moved(store: SqlStore, caplog: pytest.LogCaptureFixture, new_url: str) -> str:
    """The log of moving a keyed connection from http://llm.example:8080/v1 to `new_url`."""
    await store.save_connection(KEY, base_url="http://llm.example:8080/v1", api_key=Secret("k1"))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.storage.store"):
        await store.save_connection(KEY, base_url=new_url, api_key=None)
    return caplog.text


async def test_a_new_path_on_the_same_host_is_not_called_a_new_host(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Only the path changed: the log says so, and that the key was cleared."""
    said = await moved(store, caplog, "http://llm.example:8080/v2")
    assert "new host" not in said
    assert "another path on the same host" in said
    assert "key is cleared" in said


async def test_a_new_host_is_logged_as_one(
    store: SqlStore, caplog: pytest.LogCaptureFixture
) -> None:
    """Another host (or port) is a new host."""
    for url in ("http://other.example:8080/v1", "http://llm.example:9090/v1"):
        assert "moved to a new host" in await moved(store, caplog, url)
