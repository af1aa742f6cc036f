"""`parlor` as an operator starts it: each start-up failure is a real process that exits
non-zero with one line on stderr saying what to do, and never shows a password."""

from __future__ import annotations

import json
import os
import pty
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.bot_process import run_to_end
from tests.fakes.console_process import bot_env, run_console

pytestmark = pytest.mark.slow

PASSWORD = "Pg-Pa55word-4711"


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The only non-empty stderr line, after checking there is no traceback."""
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("parlor: ")
    return lines[0]


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening, so a connection is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


@pytest.fixture
def unwritable(tmp_path: Path) -> Iterator[Path]:
    """A directory this user can't write to: read-only for a user, immutable for root
    (who ignores permissions); skipped where neither can be had."""
    directory = tmp_path / "locked"
    directory.mkdir()
    if os.geteuid() != 0:
        directory.chmod(0o555)
        try:
            yield directory
        finally:
            directory.chmod(0o755)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(directory)], check=False).returncode:
        pytest.skip("root can't be kept out of a directory here (no chattr +i)")
    try:
        yield directory
    finally:
        subprocess.run([chattr, "-i", str(directory)], check=True)


def test_run_without_a_token_or_a_terminal_says_what_to_do(tmp_path: Path) -> None:
    """`run` with no token and stdin closed exits 2 with a hint, before touching the database."""
    result = run_to_end(tmp_path, bot_env(tmp_path), "run")

    assert result.returncode == 2
    line = the_one_line(result)
    assert "TELEGRAM_TOKEN" in line
    assert "`parlor console`" in line
    assert not (tmp_path / "data").exists()


def test_run_without_a_token_in_a_terminal_opens_the_console(tmp_path: Path) -> None:
    """With a terminal on stdin, `run` still opens the console, and Ctrl-D ends it cleanly."""
    terminal, stdin = pty.openpty()
    try:
        os.write(terminal, b"\x04")  # Ctrl-D, read as end of input by the terminal
        result = run_to_end(tmp_path, bot_env(tmp_path), "run", stdin=stdin)
    finally:
        os.close(stdin)
        os.close(terminal)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Parlor console:")


def test_console_still_reads_piped_input_without_a_token(tmp_path: Path) -> None:
    """`console --jsonl` answers piped lines with no token and no terminal, as scripts need."""
    bot = run_console(tmp_path, bot_env(tmp_path), "/help")

    assert [e["name"] for e in bot.events if e["type"] == "command"] == ["help"]


def test_unwritable_data_directory_names_it(tmp_path: Path, unwritable: Path) -> None:
    """A data directory the bot can't write to is named, with what to fix, and exit code 1."""
    env = bot_env(tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{unwritable / 'parlor.db'}")
    result = run_to_end(tmp_path, env, "console", "--jsonl")

    assert result.returncode == 1
    line = the_one_line(result)
    assert str(unwritable) in line
    assert "may write to it, or set DATABASE_URL" in line


def test_data_directory_that_cannot_be_created_names_it(tmp_path: Path, unwritable: Path) -> None:
    """A missing data directory is created; where it can't be, the line names it and exit is 1."""
    data = unwritable / "data"
    env = bot_env(tmp_path, DATABASE_URL=f"sqlite+aiosqlite:///{data / 'parlor.db'}")
    result = run_to_end(tmp_path, env, "migrate")

    assert result.returncode == 1
    line = the_one_line(result)
    assert f"The database directory {data} can't be created" in line
    assert "create it, writable by this user" in line


@pytest.mark.parametrize("command", [("migrate",), ("console", "--jsonl")])
def test_postgres_down_names_host_and_port_not_password(
    tmp_path: Path, closed_port: int, command: tuple[str, ...]
) -> None:
    """PostgreSQL not listening: one line with host:port and what to do; the password never."""
    url = f"postgresql+asyncpg://parlor:{PASSWORD}@127.0.0.1:{closed_port}/parlor"
    result = run_to_end(tmp_path, bot_env(tmp_path, DATABASE_URL=url), *command)

    assert result.returncode == 1
    line = the_one_line(result)
    assert f"PostgreSQL at 127.0.0.1:{closed_port} can't be reached" in line
    assert "start it, or fix the host and port in DATABASE_URL" in line
    assert PASSWORD not in result.stdout + result.stderr


def test_debug_log_has_the_driver_error_without_the_password(
    tmp_path: Path, closed_port: int
) -> None:
    """At DEBUG the underlying exception is logged too, class and message, still no password."""
    url = f"postgresql+asyncpg://parlor:{PASSWORD}@127.0.0.1:{closed_port}/parlor"
    env = bot_env(tmp_path, DATABASE_URL=url, LOG_LEVEL="DEBUG")
    result = run_to_end(tmp_path, env, "migrate")

    assert result.returncode == 1
    assert "DEBUG bot.storage.db: opening the database failed: ConnectionRefusedError" in (
        result.stderr
    )
    assert "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr


def test_json_logs_from_the_process_are_one_object_a_line(tmp_path: Path) -> None:
    """LOG_FORMAT=json: every log line on stderr is a JSON object with time, level, logger
    and event; the operator's one closing line stays plain text."""
    env = bot_env(tmp_path, LOG_FORMAT="JSON", LOG_LEVEL="DEBUG")
    result = run_to_end(tmp_path, env, "migrate")

    assert result.returncode == 0, result.stderr
    *logged, last = [line for line in result.stderr.splitlines() if line.strip()]
    assert last == "Database is up to date."
    records = [json.loads(line) for line in logged]
    assert records, "DEBUG logs something while migrating"
    assert all({"time", "level", "logger", "event"} <= record.keys() for record in records)
    assert any(record["logger"].startswith("bot.") for record in records)


def test_an_unknown_log_format_is_one_line_naming_the_setting(tmp_path: Path) -> None:
    """A typo in LOG_FORMAT is refused at start, with the allowed values."""
    result = run_to_end(tmp_path, bot_env(tmp_path, LOG_FORMAT="yaml"), "migrate")

    assert result.returncode == 2
    line = the_one_line(result)
    assert "LOG_FORMAT" in line
    assert "json" in line
