"""Runs `python -m bot run` as a real subprocess against fake platforms, the way an
operator's container would, and stops it with SIGTERM as a container stop does."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

STOP_TIMEOUT_SECONDS = 30.0
RUN_TIMEOUT_SECONDS = 60.0


class BotProcess:
    def __init__(self, workdir: Path, env: Mapping[str, str]) -> None:
        (workdir / "data").mkdir(exist_ok=True)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            cwd=workdir,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()

    def _read_log(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self._lines.append(line)

    @property
    def log(self) -> str:
        """What the bot logged so far; all of it once `stop` has returned."""
        return "".join(self._lines)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """SIGTERM, then the exit code; the log is complete afterwards. Safe to repeat."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        self._reader.join(timeout=STOP_TIMEOUT_SECONDS)
        if self.process.stderr is not None:
            self.process.stderr.close()
        return code


@contextmanager
def running_bot(workdir: Path, env: Mapping[str, str]) -> Iterator[BotProcess]:
    bot = BotProcess(workdir, env)
    try:
        yield bot
    finally:
        bot.stop()


def run_to_end(
    workdir: Path, env: Mapping[str, str], *args: str, stdin: int = subprocess.DEVNULL
) -> subprocess.CompletedProcess[str]:
    """`python -m bot *args` run to its end, stdin closed as in a container unless told:
    for what only a finished process shows (its exit code and its last stderr lines)."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=workdir,
        env=dict(env),
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_SECONDS,
        check=False,
    )
