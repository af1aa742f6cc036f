"""`parlor` stops like a service: SIGTERM is honoured even by the console running as PID 1
(as in a container), a stuck shutdown is ended at the grace by a watchdog, and a second
signal exits at once. (Each platform's SIGTERM mid-reply: tests/platforms/test_shutdown.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.console_process import bot_env
from tests.fakes.openai.server import FakeOpenAI

pytestmark = pytest.mark.slow

GRACE_SECONDS = 8.0
TIMEOUT = 30.0


def pid_namespace_command() -> list[str]:
    """`unshare` arguments that run a command as PID 1 of a new PID namespace, as Docker
    does; the test is skipped where that cannot be had."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare here to make a PID namespace")
    user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
    command = [unshare, *user, "--fork", "--pid", "--mount-proc"]
    probe = subprocess.run(
        [*command, "sh", "-c", "echo $$"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0 or probe.stdout.strip() != "1":
        pytest.skip(f"cannot make a PID namespace here: {probe.stderr.strip()}")
    return command


def child_of(pid: int) -> int | None:
    """The one child of `pid` (unshare's forked command), by its PID out here."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


@pytest.fixture
def endpoint() -> Iterator[FakeOpenAI]:
    """A model that streams 10,000 tokens, 50 ms apart: a reply of over eight minutes."""
    with FakeOpenAI.in_thread() as fake:
        fake.token_interval_seconds = 0.05
        yield fake


def test_the_console_as_pid_1_stops_on_sigterm(tmp_path: Path, endpoint: FakeOpenAI) -> None:
    """As PID 1 a signal with no handler is ignored: the console installs one, so SIGTERM
    mid-reply exits 0 within the grace, the reply stored as stopped."""
    command = pid_namespace_command()
    (tmp_path / "data").mkdir()
    env = bot_env(tmp_path, DEFAULT_BASE_URL=endpoint.base_url, DEFAULT_MODEL="scenario/slow")
    process = subprocess.Popen(
        [*command, sys.executable, "-m", "bot", "console", "--jsonl"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        process.stdin.write("tell me a long story\n")
        process.stdin.flush()
        for line in process.stdout:  # until the reply is under way
            if json.loads(line)["type"] == "edit":
                break
        bot = child_of(process.pid)  # it has been answering: it exists
        assert bot is not None

        started = time.monotonic()
        os.kill(bot, signal.SIGTERM)
        code = process.wait(timeout=TIMEOUT)
        seconds = time.monotonic() - started
        events = [json.loads(line) for line in process.stdout]
        stderr = process.stderr.read() if process.stderr else ""
    finally:
        process.kill()
        process.wait()
        for pipe in (process.stdin, process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()

    print(f"console as PID 1 exited in {seconds:.2f}s")
    assert code == 0, stderr
    assert seconds < GRACE_SECONDS
    assert "Traceback" not in stderr, stderr
    assert [e["status"] for e in events if e["type"] == "done"] == ["stopped"]
    with sqlite3.connect(tmp_path / "data" / "parlor.db") as db:
        [(status,)] = db.execute("select status from messages where role='assistant'")
    assert status == "stopped"


STUCK_LOOP = """
    import asyncio, os, signal, time
    from bot.__main__ import StopSignals
    from bot.logs import configure_logging

    async def main() -> None:
        configure_logging("INFO")
        stop = StopSignals({grace}).install()
        print("ready", flush=True)
        await stop.wait()
        print("stopping", flush=True)
        {then}

    asyncio.run(main())
"""


def signalled(tmp_path: Path, *, grace: float, then: str) -> subprocess.Popen[str]:
    """A process whose loop installs the signal handlers, sends "ready", and on the first
    signal sends "stopping" and runs `then`."""
    script = textwrap.dedent(STUCK_LOOP).format(grace=grace, then=then)
    process = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    return process


def finished(process: subprocess.Popen[str]) -> tuple[int, str]:
    code = process.wait(timeout=TIMEOUT)
    stderr = process.stderr.read() if process.stderr else ""
    for pipe in (process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    return code, stderr


def test_a_stuck_shutdown_is_ended_at_the_grace_with_one_line(tmp_path: Path) -> None:
    """The watchdog is a thread: a loop blocked for good after the signal still ends at
    the grace, with exit code 1 and one warning line."""
    process = signalled(tmp_path, grace=0.5, then="time.sleep(60)  # a stuck loop")
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code, stderr = finished(process)

    assert code == 1
    assert time.monotonic() - started < GRACE_SECONDS
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "WARNING" in lines[0]
    assert "SHUTDOWN_GRACE_SECONDS=0.5" in lines[0]


def test_a_second_signal_exits_at_once(tmp_path: Path) -> None:
    """Once stopping, another SIGINT or SIGTERM ends the process now, as killed by it."""
    process = signalled(tmp_path, grace=60, then="await asyncio.sleep(60)")
    process.send_signal(signal.SIGINT)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "stopping"
    process.send_signal(signal.SIGTERM)
    code, stderr = finished(process)

    assert code == 128 + signal.SIGTERM
    assert stderr.strip() == "parlor: stopped at once on a second signal"
