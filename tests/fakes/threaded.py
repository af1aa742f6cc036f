"""Run a fake server in its own event loop on a daemon thread, for a bot that runs as a
subprocess (or a test that blocks), and stop it cleanly afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from typing import TypeVar

Server = TypeVar("Server", bound=AbstractAsyncContextManager[object])
START_SECONDS = 10.0
FAKE_THREAD_PREFIX = "fake-"
"""Names the fakes' threads, so that a bot running in the test process can tell its own log
lines from theirs."""


@contextlib.contextmanager
def serving_in_thread(server: Server) -> Iterator[Server]:
    """`server` entered (`async with`) on a thread of its own while the block runs."""
    ready, failure = threading.Event(), []
    running: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def main() -> None:
        stop = asyncio.Event()
        try:
            async with server:
                running.append((asyncio.get_running_loop(), stop))
                ready.set()
                await stop.wait()
        except OSError as exc:  # the port is taken, say: raised in the caller's thread
            failure.append(exc)
            ready.set()

    name = f"{FAKE_THREAD_PREFIX}{type(server).__name__}"
    thread = threading.Thread(target=asyncio.run, args=(main(),), name=name, daemon=True)
    thread.start()
    ready.wait(START_SECONDS)
    if failure:
        raise failure[0]
    try:
        yield server
    finally:
        loop, stop = running[0]
        loop.call_soon_threadsafe(stop.set)
        thread.join(START_SECONDS)
