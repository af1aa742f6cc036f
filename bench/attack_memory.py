"""Peak memory of the bot under a hostile endpoint: endless event or reasoning, one huge delta.

Each case runs in a fresh process: the whole bot (`bot.app.Parlor` on a temporary SQLite file)
answers one message from a hostile endpoint on 127.0.0.1 (`tests/fakes/openai/hostile.py`,
in a process of its own so its memory is not counted). The turn is bounded in time; the case
reports the bot process's peak RSS (`getrusage`), what the chat saw and what was stored.
Run `python bench/attack_memory.py` from the repository root; it rewrites its table in
bench/README.md (`--no-write` leaves it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from endpoints import endpoint_process  # noqa: E402  (beside this script)
from readme_tables import write_table  # noqa: E402

README = ROOT / "bench" / "README.md"
CASES = {
    "endless_event": "`data:` lines for ever, never a blank line",
    "endless_reasoning": "reasoning deltas for ever, never an answer",
    "huge_delta": "one 10 MB content delta",
}
CASE_SECONDS = 30.0
TARGET_MB = 300


def status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status (Linux): VmRSS now, VmHWM peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Start VmHWM again from the current RSS, so the turn's own peak can be read."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def peak_rss_mb() -> float:
    """The process's peak RSS over its whole life (startup and imports included)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


async def one_case(attack: str) -> dict[str, object]:
    """Run one turn of the whole bot against `attack`; what it cost and what it left."""
    from bot.app import Parlor
    from bot.config import Settings
    from bot.core.clock import SystemClock
    from bot.core.domain import ChannelKey, Incoming, PlatformLimits
    from bot.storage.db import create_engine, create_sessions
    from bot.storage.store import SqlStore
    from tests.fakes.recording_replier import RecordingReplier

    with (
        tempfile.TemporaryDirectory() as folder,
        endpoint_process("tests.fakes.openai.hostile", "--attack", attack) as endpoint,
    ):
        base_url = endpoint.base_url
        database_url = f"sqlite+aiosqlite:///{folder}/parlor.db"
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' own keyword
            database_url=database_url,
            default_base_url=base_url,
            default_model="any",
            llm_first_token_timeout_seconds=5.0,
            llm_idle_timeout_seconds=10.0,
            llm_total_timeout_seconds=CASE_SECONDS - 5.0,
        )
        async with Parlor(settings) as parlor:
            assert parlor.service is not None
            limits = PlatformLimits(max_length=2000, writes_per_window=50, window_seconds=1.0)
            replier = RecordingReplier(SystemClock(), limits=limits)
            channel = ChannelKey("bench", "attack")
            before = status_mb("VmRSS")
            reset_peak()
            started = time.monotonic()
            async with asyncio.timeout(CASE_SECONDS):
                outcome = await parlor.service.handle(
                    Incoming(channel, author_id="ann", author_name="Ann", text="hi"), replier
                )
            seconds = time.monotonic() - started
            turn_peak = status_mb("VmHWM")
        engine = create_engine(database_url)  # what a restarted bot would read back
        try:
            store = SqlStore(create_sessions(engine), secret_box=None)
            state = await store.load_channel(channel)
            stored = (await store.history(state.chat_id, limit=5))[-1]
        finally:
            await engine.dispose()
    return {
        "attack": attack,
        "rss_before_mb": round(before, 1),
        "turn_peak_rss_mb": round(turn_peak, 1),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "seconds": round(seconds, 2),
        "status": outcome.status.value,
        "messages": len(replier.texts),
        "stored_chars": len(stored.content),
        "stored_reasoning_chars": len(stored.reasoning or ""),
        "last_words": replier.texts[-1][-120:] if replier.texts else "",
    }


def run_case(attack: str) -> dict[str, object]:
    """One case in a fresh interpreter, so its peak RSS is its own."""
    command = [sys.executable, str(Path(__file__).resolve()), "--one", attack]
    done = subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=CASE_SECONDS + 60, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"case {attack} failed:\n{done.stderr[-2000:]}")
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def table(results: list[dict[str, object]]) -> str:
    rows = [
        "| attack | peak RSS (process) | peak RSS (the turn) | RSS before | turn | chat saw "
        "| stored |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for result in results:
        count = int(str(result["messages"]))
        shown = f"{result['status']}, {count} message{'s' if count != 1 else ''}"
        stored = f"{result['stored_chars']:,} chars, {result['stored_reasoning_chars']:,} reasoning"
        rows.append(
            f"| {CASES[str(result['attack'])]} | {result['peak_rss_mb']} MB "
            f"| {result['turn_peak_rss_mb']} MB | {result['rss_before_mb']} MB "
            f"| {result['seconds']} s | {shown} | {stored} |"
        )
    worst = max(float(str(result["peak_rss_mb"])) for result in results)
    verdict = "under" if worst < TARGET_MB else "OVER"
    rows += [
        "",
        f"Worst peak {worst:.0f} MB: {verdict} the {TARGET_MB} MB target. Each case is a fresh "
        "process running the whole bot (SQLite store, real httpx) for one turn, bounded to "
        f"{CASE_SECONDS:g} s; the attacker runs in a process of its own. The process peak "
        "(`getrusage`) includes start-up; the turn's peak is VmHWM reset just before it. "
        f"Machine: {platform.machine()}, Linux; Python {platform.python_version()}.",
    ]
    return "\n".join(rows)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=list(CASES))
    parser.add_argument("--one", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--no-write", action="store_true", help="print only; leave the README")
    args = parser.parse_args()
    if args.one:
        print(json.dumps(asyncio.run(one_case(args.one))))
        sys.exit(0)
    results = []
    for case in args.cases:
        result = run_case(case)
        print(json.dumps(result), flush=True)
        results.append(result)
    output = table(results)
    print(output)
    if not args.no_write:
        write_table(README, "attack_memory", output)
