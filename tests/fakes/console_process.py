"""Drives `python -m bot console --jsonl` as a real subprocess, the way a script would.

Events are read on a thread and handed over through a queue, so a test waits for
"the first edit" or "the done line" rather than sleeping.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Event = dict[str, Any]
EVENT_TIMEOUT_SECONDS = 30.0

# Variables of the developer's own set-up that must not leak into a test's bot.
_SCRUBBED = (
    "DATABASE_URL",
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "DEFAULT_API_KEY",
    "ENCRYPTION_KEYS",
    "ALLOW_PRIVATE_ENDPOINTS",
    "ALLOWED_ENDPOINT_HOSTS",
    "LOG_LEVEL",
    "DISCORD_TOKEN",
    "TELEGRAM_TOKEN",
    "TELEGRAM_API_URL",
    "REDIS_URL",
    "LEASE_SECONDS",
    "LEASE_RENEW_SECONDS",
)


def bot_env(workdir: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{workdir / 'data' / 'parlor.db'}"
    env["PYTHONUNBUFFERED"] = "1"
    # The fake endpoint is on loopback; the guard's refusal is tested on its own.
    env["ALLOW_PRIVATE_ENDPOINTS"] = "true"
    env.update(overrides)
    return env


class ConsoleProcess:
    """A running console bot; write lines with `send`, read events with `wait_for`."""

    def __init__(self, workdir: Path, env: Mapping[str, str], *args: str) -> None:
        self.events: list[Event] = []
        self._queue: queue.Queue[Event | None] = queue.Queue()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "console", "--jsonl", *args],
            cwd=workdir,
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.stderr_text = ""
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(json.loads(line))
        self._queue.put(None)

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr_text = self.process.stderr.read()

    def send(self, *lines: str) -> None:
        assert self.process.stdin is not None
        for line in lines:
            self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def wait_for(self, predicate: Callable[[Event], bool]) -> Event:
        """The next event that matches; fails if the bot exits or goes quiet first."""
        while True:
            try:
                event = self._queue.get(timeout=EVENT_TIMEOUT_SECONDS)
            except queue.Empty:
                raise AssertionError(f"no matching event; seen {self.events}") from None
            if event is None:
                raise AssertionError(f"the bot exited; seen {self.events}")
            self.events.append(event)
            if predicate(event):
                return event

    def done(self) -> Event:
        return self.wait_for(lambda e: e["type"] == "done")

    def command(self, name: str) -> Event:
        return self.wait_for(lambda e: e["type"] == "command" and e["name"] == name)

    def command_text(self, name: str) -> str:
        """The answer to an already finished command."""
        return str(
            next(e["text"] for e in self.events if e["type"] == "command" and e["name"] == name)
        )

    def close(self) -> int:
        """End input and wait for the bot to finish what it was doing."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        code = self.process.wait(timeout=EVENT_TIMEOUT_SECONDS)
        self._drain()
        return code

    def kill(self) -> None:
        assert self.process.stdin is not None
        self.process.kill()
        self.process.wait(timeout=EVENT_TIMEOUT_SECONDS)
        self._drain()

    def _drain(self) -> None:
        """Collect the last events and close the pipes (unclosed pipes warn at collection)."""
        self._stderr_thread.join(timeout=EVENT_TIMEOUT_SECONDS)
        while True:
            try:
                event = self._queue.get(timeout=EVENT_TIMEOUT_SECONDS)
            except queue.Empty:
                break
            if event is None:
                break
            self.events.append(event)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            if pipe is not None and not pipe.closed:
                pipe.close()


def run_console(workdir: Path, env: Mapping[str, str], *lines: str) -> ConsoleProcess:
    """Feed `lines`, close input, and return the finished process with all its events."""
    bot = ConsoleProcess(workdir, env)
    bot.send(*lines)
    code = bot.close()
    assert code == 0, bot.stderr_text
    return bot
