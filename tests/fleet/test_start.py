"""`parlor run` with REDIS_URL set as an operator starts it: a Redis that does not answer is
one line naming where it was looked for, exit code 1, and never its password."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.bot_process import run_to_end
from tests.fakes.console_process import bot_env
from tests.test_main import the_one_line

pytestmark = pytest.mark.slow

PASSWORD = "Redis-Pa55word-4711"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A loopback port held bound but not listening, so a connection is refused at once."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


def test_redis_down_at_start_is_one_line_and_exit_1(tmp_path: Path, closed_port: int) -> None:
    """No Redis at REDIS_URL: the process stops before serving, saying where and what to do."""
    env = bot_env(
        tmp_path,
        TELEGRAM_TOKEN="123456:not-a-real-token",
        REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:{closed_port}/0",
        LOG_LEVEL="WARNING",
    )
    result = run_to_end(tmp_path, env, "run")

    assert result.returncode == 1
    line = the_one_line(result)
    assert f"Redis at 127.0.0.1:{closed_port} can't be reached (connection refused)" in line
    assert "unset REDIS_URL" in line
    assert PASSWORD not in result.stdout + result.stderr


def test_a_redis_url_of_another_kind_is_refused_before_start(tmp_path: Path) -> None:
    """REDIS_URL must be a Redis URL: the setting is named with what it must look like."""
    env = bot_env(tmp_path, TELEGRAM_TOKEN="123456:x", REDIS_URL="http://127.0.0.1:6379")
    result = run_to_end(tmp_path, env, "run")

    assert result.returncode == 2
    line = the_one_line(result)
    assert "REDIS_URL" in line
    assert "redis://" in line
