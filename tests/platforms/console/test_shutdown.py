"""The console session ended by a shutdown: the reply being written ends stopped, lines read
but not begun are dropped, and the stdin reader left blocked on its read stays quiet."""

from __future__ import annotations

import asyncio
import io
import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from bot.app import sql_stores
from bot.core.clock import SystemClock
from bot.core.domain import Connection, Delta
from bot.platforms.console.session import ConsoleIdentity, ConsoleOutput, ConsoleSession
from bot.storage.db import create_engine, create_sessions
from tests.fakes.openai.scripted_client import Script, ScriptedClient, reply
from tests.service.conftest import build_service

OPERATOR = Connection("http://op.example/v1", model="m")
TIMEOUT = 20.0


@contextmanager
def terminal() -> Iterator[tuple[TextIO, int]]:
    """A pipe standing for a terminal nobody closes: the session's input, and its writing
    end for the test to type on."""
    read_end, write_end = os.pipe()
    stdin = os.fdopen(read_end, encoding="utf-8")
    try:
        yield stdin, write_end
    finally:
        os.close(write_end)  # the reader thread reads EOF and ends
        reader = next((t for t in threading.enumerate() if t.name == "console-stdin"), None)
        if reader is not None:
            reader.join(TIMEOUT)
        stdin.close()


async def shut_down_mid_reply(
    url: str, stdin: TextIO, typed: int
) -> tuple[list[dict[str, str]], ScriptedClient]:
    """Two lines are typed; while the first one's reply streams, the session is ended as a
    shutdown ends it. The session's events, and the endpoint's record."""
    engine = create_engine(url)
    try:
        script = Script(deltas=[Delta(content="Once "), Delta(content="upon")], hold_after=2)
        client = ScriptedClient([script, reply("never")])
        service = build_service(
            sql_stores(create_sessions(engine), secret_box=None),
            client,
            SystemClock(),
            default=OPERATOR,
        )
        out = io.StringIO()
        session = ConsoleSession(
            service, ConsoleOutput(out, jsonl=True), ConsoleIdentity("c", "ann")
        )
        os.write(typed, b"tell me a story\nand another one\n")
        async with asyncio.timeout(TIMEOUT):
            chatting = asyncio.create_task(session.run(stdin))
            await script.reached_hold.wait()
            session.end_input()
            assert await service.shut_down(within=TIMEOUT) == 0
            await chatting
    finally:
        await engine.dispose()
    return [json.loads(line) for line in out.getvalue().splitlines()], client


def test_a_shutdown_ends_the_session_without_waiting_for_input(migrated_sqlite_url: str) -> None:
    """The reply being written ends stopped; the next line typed is not begun, and the
    session ends though its input is still open."""
    with terminal() as (stdin, typed):
        events, client = asyncio.run(shut_down_mid_reply(migrated_sqlite_url, stdin, typed))

    assert [e for e in events if e["type"] == "done"] == [
        {"type": "done", "status": "stopped", "text": "Once upon"}
    ]
    assert len(client.requests) == 1


def test_a_line_typed_after_the_shutdown_is_dropped_quietly(migrated_sqlite_url: str) -> None:
    """The reader thread, blocked on its read when the session ended, wakes to a closed
    loop when more is typed: it ends without a traceback (pytest fails the test on an
    exception in a thread)."""
    with terminal() as (stdin, typed):
        asyncio.run(shut_down_mid_reply(migrated_sqlite_url, stdin, typed))
        os.write(typed, b"anyone there?\n")
