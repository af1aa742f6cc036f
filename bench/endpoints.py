"""A fake endpoint for a benchmark, in a child process so that its CPU and memory are not
counted as the bot's."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent


class Endpoint(NamedTuple):
    base_url: str
    pid: int


@contextlib.contextmanager
def endpoint_process(module: str, *args: str) -> Iterator[Endpoint]:
    """Run `python -m module args…` from the repository root: a server that prints its base
    URL as its first line. Stopped when the block ends."""
    command = [sys.executable, "-m", module, *args]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            base_url = process.stdout.readline().strip()
            if not base_url.startswith("http://127.0.0.1:"):
                raise RuntimeError(f"{module} did not start: {base_url!r}")
            yield Endpoint(base_url, process.pid)
        finally:
            process.terminate()
            process.wait(10)
