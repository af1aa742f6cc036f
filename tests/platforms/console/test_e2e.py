"""The console bot end to end: a SQLite file and a fake endpoint on loopback, the bot a real
subprocess where stdin, a kill or the command line matter and the composition root's
console session in this process (`console`) elsewhere."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.endpoints.presets import PRESETS, KeyNeed
from tests.fakes.bot_process import run_to_end
from tests.fakes.bot_thread import ConsoleRun, run_console_in_thread
from tests.fakes.console_process import ConsoleProcess, bot_env, run_console
from tests.fakes.leases import SHORT_LEASES, wait_until_leases_run_out
from tests.fakes.openai.server import FakeOpenAI

pytestmark = pytest.mark.slow

API_KEY = "sk-test-Very5ecretValue-9876"


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.in_thread() as server:
        yield server


Console = Callable[..., ConsoleRun]


@pytest.fixture
def console(tmp_path: Path, migrated_template: Path) -> Console:
    """`console(env, *lines)`: the lines through the console session in this process."""

    def run(env: dict[str, str], *lines: str) -> ConsoleRun:
        return run_console_in_thread(tmp_path, env, *lines, template=migrated_template)

    return run


def db_rows(workdir: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(workdir / "data" / "parlor.db") as db:
        return db.execute(query).fetchall()


def test_reply_streams_and_survives_a_restart(tmp_path: Path, fake: FakeOpenAI) -> None:
    """A reply streams as send + edits; after a restart the connection and history are there."""
    env = bot_env(tmp_path)
    first = run_console(
        tmp_path, env, f"/connect base_url:{fake.base_url} model:parlor-test", "hello there"
    )
    kinds = [e["type"] for e in first.events]
    assert kinds[0] == "command"
    assert "send" in kinds
    assert "edit" in kinds
    done = first.events[-1]
    assert done["type"] == "done"
    assert done["status"] == "complete"
    assert "hello there" in done["text"]
    final_edit = [e for e in first.events if e["type"] in ("send", "edit")][-1]
    assert final_edit["text"] == done["text"]

    second = run_console(tmp_path, env, "/settings", "and again")
    settings = second.events[0]["text"]
    assert fake.base_url in settings
    assert "parlor-test" in settings
    last_request = fake.requests[-1].json
    contents = [m["content"] for m in last_request["messages"]]
    assert contents[0] == "hello there"
    assert contents[1] == done["text"]
    assert contents[-1] == "and again"


def test_api_key_is_masked_encrypted_and_never_logged(
    tmp_path: Path, fake: FakeOpenAI, console: Console
) -> None:
    """The key reaches the endpoint, but not the database in clear, the logs at DEBUG or stdout."""
    env = bot_env(tmp_path, ENCRYPTION_KEYS=Fernet.generate_key().decode(), LOG_LEVEL="DEBUG")
    bot = console(
        env,
        f"/connect base_url:{fake.base_url} api_key:{API_KEY} model:m",
        "/settings",
        "hi",
    )
    settings = bot.command_text("settings")
    assert "sk-…9876" in settings
    assert fake.requests[-1].headers["authorization"] == f"Bearer {API_KEY}"
    everything = "".join(str(e) for e in bot.events) + bot.log
    assert API_KEY not in everything
    assert "Very5ecret" not in everything
    for path in (tmp_path / "data").iterdir():
        assert API_KEY.encode() not in path.read_bytes(), path.name
    assert "DEBUG" in bot.log  # the log really ran at DEBUG


def test_info_logs_say_what_happened_not_what_was_said(
    tmp_path: Path, fake: FakeOpenAI, console: Console
) -> None:
    """At INFO a turn is logged with channel, model and sizes, never its words."""
    env = bot_env(tmp_path, DEFAULT_BASE_URL=fake.base_url, DEFAULT_MODEL="parlor-test")
    bot = console(env, "a very private sentence")
    assert "model=parlor-test" in bot.log
    assert "channel=console:console" in bot.log
    assert "private sentence" not in bot.log


def test_key_refused_without_encryption_keys(
    tmp_path: Path, fake: FakeOpenAI, console: Console
) -> None:
    """Without ENCRYPTION_KEYS a typed key is refused, clearly, and nothing is stored."""
    bot = console(bot_env(tmp_path), f"/connect base_url:{fake.base_url} api_key:{API_KEY}")
    assert "ENCRYPTION_KEYS" in bot.command_text("connect")
    assert db_rows(tmp_path, "select count(*) from connections") == [(0,)]


def test_stop_keeps_the_partial_reply(tmp_path: Path, fake: FakeOpenAI) -> None:
    """/stop ends a streaming reply at once; the text so far is kept and marked stopped."""
    fake.default_scenario = "slow"
    bot = ConsoleProcess(tmp_path, bot_env(tmp_path, DEFAULT_BASE_URL=fake.base_url))
    bot.send("/model slow-model", "tell me a long story")
    bot.wait_for(lambda e: e["type"] == "edit" and len(e["text"]) > 5)
    bot.send("/stop")
    assert bot.command("stop")["text"] == "Stopped."
    done = bot.done()
    assert done["status"] == "stopped"
    assert done["text"]
    assert bot.close() == 0
    rows = db_rows(tmp_path, "select status, content from messages where role='assistant'")
    assert rows == [("stopped", done["text"])]


def test_endpoint_error_is_reported_and_stored(
    tmp_path: Path, fake: FakeOpenAI, console: Console
) -> None:
    """A rejected key ends the turn with the cause and a hint; the turn is stored as an error."""
    env = bot_env(tmp_path, DEFAULT_BASE_URL=fake.base_url, DEFAULT_MODEL="scenario/unauthorized")
    bot = console(env, "hello")
    done = bot.events[-1]
    assert done["status"] == "error"
    assert "key" in done["text"].lower()
    assert db_rows(tmp_path, "select status from messages where role='assistant'") == [("error",)]


def test_sigkill_mid_reply_leaves_a_sound_database(tmp_path: Path, fake: FakeOpenAI) -> None:
    """Killed mid-stream, the database passes integrity_check and keeps every finished turn."""
    env = bot_env(
        tmp_path, DEFAULT_BASE_URL=fake.base_url, DEFAULT_MODEL="parlor-test", **SHORT_LEASES
    )
    bot = ConsoleProcess(tmp_path, env)
    bot.send("first question")
    assert bot.done()["status"] == "complete"
    bot.send("/model scenario/slow", "second question")
    bot.wait_for(lambda e: e["type"] == "edit" and len(e["text"]) > 5)
    bot.kill()

    assert db_rows(tmp_path, "pragma integrity_check") == [("ok",)]
    rows = db_rows(tmp_path, "select role, status, content from messages order by id")
    assert rows[0] == ("user", "complete", "first question")
    assert rows[1][:2] == ("assistant", "complete")
    assert "first question" in str(rows[1][2])
    assert rows[2] == ("user", "complete", "second question")
    assert rows[3][:2] == ("assistant", "pending")

    wait_until_leases_run_out(tmp_path / "data" / "parlor.db")
    restarted = run_console(tmp_path, env, "/settings")
    assert restarted.events
    statuses = db_rows(tmp_path, "select status from messages where role='assistant' order by id")
    assert statuses == [("complete",), ("interrupted",)]


def test_guard_refuses_a_private_endpoint_and_no_packet_reaches_it(
    tmp_path: Path, fake: FakeOpenAI, console: Console
) -> None:
    """By default a URL set in a chat may not reach loopback: refused, stored nowhere, unseen."""
    env = bot_env(tmp_path, ALLOW_PRIVATE_ENDPOINTS="false")
    bot = console(env, f"/connect base_url:{fake.base_url} model:m")
    answer = bot.command_text("connect")
    assert "not allowed" in answer
    assert "ALLOW_PRIVATE_ENDPOINTS" in answer
    assert fake.requests == []
    assert db_rows(tmp_path, "select count(*) from connections") == [(0,)]


def test_operator_endpoint_may_be_private(
    tmp_path: Path, fake: FakeOpenAI, console: Console
) -> None:
    """The operator's DEFAULT_BASE_URL is trusted, so a loopback endpoint works."""
    env = bot_env(
        tmp_path, ALLOW_PRIVATE_ENDPOINTS="false", DEFAULT_BASE_URL=fake.base_url,
        DEFAULT_MODEL="m",
    )  # fmt: skip
    bot = console(env, "hello")
    assert bot.events[-1]["status"] == "complete"


def test_invalid_setting_stops_start_up_with_one_line(tmp_path: Path) -> None:
    """A bad setting ends the process with one line naming the variable."""
    env = bot_env(tmp_path, DATABASE_URL="mysql://nope")
    result = run_to_end(tmp_path, env, "console")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "parlor: Invalid setting DATABASE_URL: must start with sqlite+aiosqlite://… "
        "or postgresql+asyncpg://…"
    ]


def test_migrate_creates_the_database(tmp_path: Path) -> None:
    """`python -m bot migrate` creates the data directory and every table."""
    result = run_to_end(tmp_path, bot_env(tmp_path), "migrate")
    assert result.returncode == 0, result.stderr
    tables = {row[0] for row in db_rows(tmp_path, "select name from sqlite_master")}
    assert {"connections", "channels", "characters", "chats", "messages"} <= tables
    assert os.path.exists(tmp_path / "data" / "parlor.db")


def test_end_of_input_answers_every_line_read(tmp_path: Path, fake: FakeOpenAI) -> None:
    """End of input finishes the running turn and the queued ones before the process exits."""
    env = bot_env(tmp_path, DEFAULT_BASE_URL=fake.base_url, DEFAULT_MODEL="parlor-test")
    bot = ConsoleProcess(tmp_path, env)
    bot.send("one", "two")
    assert bot.close() == 0
    assert [e["status"] for e in bot.events if e["type"] == "done"] == ["complete", "complete"]


def test_text_completion_and_test_through_the_real_client(
    tmp_path: Path, fake: FakeOpenAI, console: Console
) -> None:
    """/test answers through the fake; /api type:text sends an instruct prompt to /completions."""
    bot = console(
        bot_env(tmp_path),
        f"/connect base_url:{fake.base_url.removesuffix('/v1')}/ model:fake-model",
        "/test",
        "/api type:text template:chatml",
        "hello there",
    )
    connect = bot.command_text("connect")
    assert f"Connected this channel to {fake.base_url}." in connect
    assert "added /v1" in connect
    assert bot.command_text("test").startswith("✅ The endpoint answered in ")
    request = fake.requests[-1]
    assert request.path == "/v1/completions"
    assert request.json["prompt"].endswith(
        "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n"
    )
    assert "\n<|im_end|>" in request.json["stop"]
    done = bot.events[-1]
    assert (done["status"], done["text"]) == ("complete", "You said: hello there")


def test_every_preset_connects_through_the_console(tmp_path: Path, console: Console) -> None:
    """Each preset fills its documented URL and says when a key is needed (no probe: offline)."""
    lines = [f"/connect preset:{preset.title} bypass_check:true" for preset in PRESETS]
    bot = console(bot_env(tmp_path), *lines)
    answers = [e["text"] for e in bot.events if e["type"] == "command"]
    assert len(answers) == len(PRESETS)
    for preset, answer in zip(PRESETS, answers, strict=True):
        assert f"Connected this channel to {preset.base_url}." in answer, preset.name
        needs_key = f"{preset.title} needs an API key" in answer
        assert needs_key is (preset.key is KeyNeed.REQUIRED), preset.name
