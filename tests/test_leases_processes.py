"""Two real bot processes (`parlor console`) on one database, a SQLite file or PostgreSQL:
a start leaves the other's reply alone, and a killed one's reply is settled by the survivor
once its lease has run out. The fake endpoint's pace is the gate: replies stream slowly until
the test has looked, then finish at once."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.storage.db import create_engine
from tests.fakes.console_process import ConsoleProcess, bot_env, run_console
from tests.fakes.leases import SHORT_LEASES
from tests.fakes.openai.server import FakeOpenAI
from tests.storage.conftest import postgres_url, reset_postgres

__all__ = ["postgres_url"]  # the fixture, for the PostgreSQL runs

pytestmark = pytest.mark.slow

SLOW_TOKEN_SECONDS = 0.1
WAIT_SECONDS = 20.0
REPLY_TOKENS = "400"  # at the slow pace, longer than any test waits


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database the bots migrate as they start."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'data' / 'parlor.db'}"
    url = str(request.getfixturevalue("postgres_url"))
    asyncio.run(reset_postgres(url))
    return url


@pytest.fixture
def fake() -> Any:
    with FakeOpenAI.in_thread() as server:
        yield server


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    """What the database holds now, read as a third party would."""

    async def read() -> list[tuple[Any, ...]]:
        engine = create_engine(url)
        try:
            async with engine.connect() as connection:
                return [tuple(row) for row in (await connection.execute(text(query))).all()]
        finally:
            await engine.dispose()

    return asyncio.run(read())


def replies(url: str) -> list[tuple[str, str, list[dict[str, Any]] | None]]:
    """Each reply's status, text shown and kept versions, oldest first."""
    found = rows(
        url, "select status, content, swipes from messages where role='assistant' order by id"
    )
    return [(s, c, json.loads(v) if isinstance(v, str) else v) for s, c, v in found]


def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not check():
        assert time.monotonic() < deadline, "the condition never held"
        time.sleep(0.05)


def streaming(bot: ConsoleProcess, *lines: str) -> str:
    """Send `lines` and wait for the reply to show some words; the text shown."""
    bot.send(*lines)
    return str(bot.wait_for(lambda e: e["type"] == "edit" and "t000003" in e["text"])["text"])


def test_a_start_leaves_the_reply_another_process_regenerates_alone(
    tmp_path: Path, fake: FakeOpenAI, database_url: str
) -> None:
    """While one bot regenerates a reply, another starts on the same database (as the console
    opened inside a running container does): it sees the reply as still being written, marks
    nothing cut off, and the first version is still there beside the finished new one."""
    env = bot_env(tmp_path, DATABASE_URL=database_url, DEFAULT_BASE_URL=fake.base_url)
    env["DEFAULT_MODEL"] = "parlor-test"
    running = ConsoleProcess(tmp_path, env)
    try:
        running.send("first question")
        first = running.done()
        assert first["status"] == "complete"
        fake.token_interval_seconds = SLOW_TOKEN_SECONDS
        streaming(
            running, "/model scenario/paced", f"/params max_tokens:{REPLY_TOKENS}", "/regenerate"
        )

        console = run_console(tmp_path, env, "/swipe direction:previous")
        assert "still writing" in console.command_text("swipe")
        assert "cut off" not in console.stderr_text
        assert "holds a lease of 30 s, renewed every 10 s" in console.stderr_text
        assert replies(database_url)[-1][0] == "pending"

        fake.token_interval_seconds = 0.0
        second = running.done()
        assert second["status"] == "complete"
        running.send("/swipe direction:previous")
        assert running.command("swipe")["text"].startswith(first["text"].strip())
    finally:
        assert running.close() == 0, running.stderr_text
    status, _, versions = replies(database_url)[-1]
    assert status == "complete"
    assert [(v["status"], v["content"]) for v in versions or []] == [
        ("complete", first["text"]),
        ("complete", second["text"]),
    ]


def test_a_killed_processs_reply_is_settled_by_the_survivor_after_its_lease(
    tmp_path: Path, fake: FakeOpenAI, database_url: str
) -> None:
    """Two bots stream replies in their own chats; one is killed (SIGKILL). Once its lease
    has run out the survivor settles its reply with the text it had shown, marked
    interrupted, while the survivor's own reply goes on streaming and ends complete."""
    env = bot_env(tmp_path, DATABASE_URL=database_url, DEFAULT_BASE_URL=fake.base_url)
    env.update(SHORT_LEASES, DEFAULT_MODEL="scenario/paced")
    fake.token_interval_seconds = SLOW_TOKEN_SECONDS
    doomed = ConsoleProcess(tmp_path, env, "--chat", "doomed")
    survivor = ConsoleProcess(tmp_path, env, "--chat", "survivor")
    try:
        for bot in (doomed, survivor):
            bot.send(f"/params max_tokens:{REPLY_TOKENS}")
            bot.command("params")
        streaming(survivor, "a long poem")
        streaming(doomed, "a long story")
        doomed.kill()
        shown = [e["text"] for e in doomed.events if e["type"] in ("send", "edit")][-1]

        eventually(lambda: "interrupted" in [status for status, _, _ in replies(database_url)])
        by_status = {status: content for status, content, _ in replies(database_url)}
        assert by_status["interrupted"].strip().startswith(shown.strip())
        assert "pending" in by_status  # the survivor's, still being written
        survivor.wait_for(lambda e: e["type"] == "edit")  # and still streaming

        fake.token_interval_seconds = 0.0
        done = survivor.done()
        assert done["status"] == "complete"
    finally:
        if doomed.process.poll() is None:
            doomed.kill()
        assert survivor.close() == 0, survivor.stderr_text
    assert sorted((status, content) for status, content, _ in replies(database_url)) == sorted(
        [("interrupted", by_status["interrupted"]), ("complete", done["text"])]
    )
