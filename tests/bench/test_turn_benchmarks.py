"""The turn benchmarks (bench/turn_cpu.py, bench/turn_latency.py) still run: each in its tiny
configuration, as `make bench` would run it, printing its table. Times are never asserted:
they belong to the benchmark's own run on a quiet machine, not to CI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str) -> str:
    readme = (ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    done = subprocess.run(
        [sys.executable, f"bench/{script}", "--smoke", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert (ROOT / "bench" / "README.md").read_text(encoding="utf-8") == readme, "smoke wrote"
    return done.stdout


def test_turn_cpu_prints_the_bot_against_the_bare_loop_and_the_turns_steps() -> None:
    out = run_bench("turn_cpu.py", "--stages")
    assert "| loop | µs CPU per turn | vs bare httpx |" in out
    assert "| Parlor turn (service.handle) |" in out
    assert "| bare httpx loop, same request |" in out
    assert "| PromptFactory.build |" in out  # the steps' table, with the prompt's step in it


def test_turn_latency_prints_p50_and_p99_for_the_floor_and_the_chat() -> None:
    out = run_bench("turn_latency.py")
    assert "| chat | p50 | p99 |" in out
    assert "| bare httpx POST (floor) |" in out
    assert "| 100 stored messages |" in out
