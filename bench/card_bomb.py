"""Hostile card files against /character import: the event loop's worst stall and peak memory.

Run `python bench/card_bomb.py` from the repository root; it rewrites its table in
bench/README.md. Each case runs in a process of its own, so that its peak memory is its
own: the file is built in memory (the 19 MB PNG of 1.4 million chunks that froze the bot,
compression bombs, a CHARX of countless files, JSON of countless values, and a large but
honest card), then imported through `/character import` as the service runs it
(built by `bot.app.build_service`, the card stored in a real SQLite file) while a ticker asks for
the loop every 10 ms. Targets: no stall over 100 ms, peak memory under 300 MB.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readme_tables import write_table  # noqa: E402  (beside this script)

from bot.app import build_service, sql_stores  # noqa: E402
from bot.characters.reader import CardReader  # noqa: E402
from bot.core.clock import SystemClock  # noqa: E402
from bot.core.domain import (  # noqa: E402
    Actor,
    Attachment,
    ChannelKey,
    CommandCall,
    Completion,
    CompletionRequest,
    Connection,
    Delta,
    Permission,
)
from bot.core.errors import BotError, user_message  # noqa: E402
from bot.reply.pacing import Pacing  # noqa: E402
from bot.service.turns.prompting import Budget  # noqa: E402
from bot.service.turns.tokens import EstimatingCounter  # noqa: E402
from bot.storage.db import create_engine, create_sessions  # noqa: E402
from bot.storage.migrate import upgrade_to_head  # noqa: E402
from tests.characters import bombs, samples  # noqa: E402

README = ROOT / "bench" / "README.md"
TICK_SECONDS = 0.01
MIB = 1 << 20
CARD = samples.v2_card()


def honest_card() -> bytes:
    return bombs.big_legal_png(bombs.lorebook_card("Harbour", entries=6_000), image_bytes=15 * MIB)


IDLE = "(no import: the ticker alone for a second, the machine's own noise)"
HONEST = "honest card: 15 MB image in 15,000 chunks, 6,000-entry lorebook (2 MB JSON)"
HONEST_READ_ONLY = "the same honest card, read only (`CardReader`, not stored)"
CASES: dict[str, Callable[[], bytes]] = {
    IDLE: lambda: b"",
    "PNG of 1.4 million tiny chunks (19 MB)": lambda: bombs.chunk_bomb(CARD, chunks=1_400_000),
    "zTXt card chunk unpacking to 512 MB": lambda: bombs.text_bomb("zTXt", unpacked=512 * MIB),
    "CHARX card.json unpacking to 512 MB": lambda: bombs.charx_bomb(CARD, unpacked=512 * MIB),
    "CHARX of 180,000 files (19 MB)": lambda: bombs.crowded_charx(CARD, members=180_000),
    "JSON of 1.6 million values (4.9 MB)": lambda: bombs.values_bomb(CARD, size=4_900_000),
    HONEST: honest_card,
    HONEST_READ_ONLY: honest_card,
}


class NoFetcher:
    """Cards come as files here; nothing is downloaded."""

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        raise NotImplementedError


class NoEndpoint:
    """An import asks no model anything."""

    def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        raise NotImplementedError

    async def complete(self, request: CompletionRequest) -> Completion:
        raise NotImplementedError

    async def models(self, connection: Connection) -> list[str]:
        raise NotImplementedError


def rss_mib() -> float:
    """This process's resident memory now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def import_once(data: bytes, *, store_it: bool = True) -> dict[str, object]:
    """Import `data` through /character import while a ticker measures the loop.

    With `store_it` false only the service's reader runs: what reading costs, storage apart.
    """
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await upgrade_to_head(url)
        engine = create_engine(url)
        sessions = create_sessions(engine)
        service = build_service(
            sql_stores(sessions, secret_box=None),
            client=NoEndpoint(),
            fetcher=NoFetcher(),
            clock=SystemClock(),
            pacing=Pacing(),
            token_counter=EstimatingCounter(),
            budget=Budget(),
            wall_clock=lambda: datetime.now(UTC),
            queue_size=1,
            default_connection=None,
        )
        call = CommandCall(
            "character",
            {"action": "import"},
            ChannelKey("bench", "channel"),
            Actor("bench", "Bench", Permission.OPERATOR),
            attachments=(Attachment("card.png", "image/png", data),),
        )
        worst = 0.0

        async def ticker() -> None:
            nonlocal worst
            last = time.perf_counter()
            while True:
                await asyncio.sleep(TICK_SECONDS)
                now = time.perf_counter()
                worst = max(worst, now - last - TICK_SECONDS)
                last = now

        ticking = asyncio.create_task(ticker())
        await asyncio.sleep(5 * TICK_SECONDS)
        before = rss_mib()
        started = time.perf_counter()
        try:
            if data and not store_it:
                answer = f"read {(await CardReader().read(data)).card.name}, not stored"
            elif data:
                answer = (await service.run_command(call)).text
            else:
                await asyncio.sleep(1.0)
                answer = "-"
        except BotError as exc:  # the reader alone, without the service's boundary
            answer = user_message(exc)
        took = time.perf_counter() - started
        await asyncio.sleep(5 * TICK_SECONDS)
        ticking.cancel()
        await engine.dispose()
    return {
        "answer": answer.splitlines()[0],
        "seconds": took,
        "stall_ms": worst * 1000,
        "rss_before": before,
        "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_case(name: str) -> dict[str, object]:
    data = CASES[name]()
    result = asyncio.run(import_once(data, store_it=name != HONEST_READ_ONLY))
    return {"size_mb": len(data) / MIB, **result}


def least_disturbed(runs: list[dict[str, object]]) -> dict[str, object]:
    """The run with the smallest stall, carrying the largest peak memory of all the runs."""
    best = min(runs, key=lambda run: float(str(run["stall_ms"])))
    return {**best, "peak_rss": max(float(str(run["peak_rss"])) for run in runs)}


def table(results: dict[str, dict[str, object]], rounds: int) -> str:
    rows = [
        "| file | size | answer | import | worst loop stall | peak RSS |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, r in results.items():
        answer = str(r["answer"])
        answer = answer if len(answer) <= 70 else answer[:69] + "…"
        rows.append(
            f"| {name} | {r['size_mb']:.1f} MB | {answer} | {r['seconds']:.2f} s "
            f"| {r['stall_ms']:.0f} ms | {r['peak_rss']:.0f} MB |"
        )
    rows.append("")
    rows.append(
        f"Ticker every {TICK_SECONDS * 1000:.0f} ms; stall = the longest wait past it, in the "
        f"least disturbed of {rounds} interleaved runs (the machine is shared). Peak RSS is the "
        "largest of the runs, the whole process's, building the file in memory included. "
        f"Machine: {platform.machine()}, {platform.system()}; Python {platform.python_version()}."
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", help="run one case here and print its result as JSON")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each case (default 3)")
    parser.add_argument("--no-write", action="store_true", help="do not update bench/README.md")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case)))
        return
    runs: dict[str, list[dict[str, object]]] = {name: [] for name in CASES}
    for _ in range(args.rounds):  # rounds interleaved, so that a busy moment hits every case
        for name in CASES:
            out = subprocess.run(
                [sys.executable, __file__, "--case", name],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            runs[name].append(json.loads(out.splitlines()[-1]))
            print(f"{name}: {runs[name][-1]}", file=sys.stderr)
    results = {name: least_disturbed(found) for name, found in runs.items()}
    text = table(results, args.rounds)
    print(text)
    if not args.no_write:
        write_table(README, "card_bomb", text)


if __name__ == "__main__":
    main()
