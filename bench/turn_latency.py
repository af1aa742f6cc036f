"""T2 (issue 17): from a message arriving to the request reaching the endpoint, in long chats.

The whole bot as in bench/turn_rig.py (SQLite file stores, a character card in the channel,
the real client and endpoint tokenizer), in chats of 1,000 and 100,000 stored messages. Each
turn is timed from just before `service.handle` to the moment the fake endpoint, in its own
process (bench/arrival_endpoint.py), has read the chat request: both read `time.monotonic()`,
which on Linux is one clock for every process. Turns run one after another; the first few of
each chat are left out (they count and cache the history's tokens, a cost paid once per chat).
Alone the client's own floor, a bare httpx POST of the same kind, is timed the same way.
Run `python bench/turn_latency.py` from the repository root; it rewrites its table in
bench/README.md (`--no-write` leaves it).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from endpoints import endpoint_process  # noqa: E402  (beside this script)
from readme_tables import write_table  # noqa: E402
from turn_rig import chat_file, running_bot, turn  # noqa: E402

from bot.llm.client import build_http_client  # noqa: E402
from bot.llm.deadline import StreamTimeouts  # noqa: E402

README = ROOT / "bench" / "README.md"
WARM_UP = 5
BARE_BODY = {"model": "scenario/count", "messages": [{"role": "user", "content": "Hi"}],
             "stream": True, "max_tokens": 1}  # fmt: skip


async def arrivals(http: httpx.AsyncClient, root: str) -> tuple[list[float], int]:
    seen = (await http.get(f"{root}/arrivals")).json()
    return seen["arrivals"], seen["tokenizes"]


class FullCollections:
    """Counts the interpreter's full (generation 2) garbage collections: each stops the loop
    for as long as it walks every tracked object."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start" and info["generation"] == 2:
            self.count += 1

    def __enter__(self) -> FullCollections:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self)


async def chat_latencies(
    base_url: str, history: int, turns: int
) -> tuple[list[float], float, float, list[bool]]:
    """Seconds from handle to arrival for each measured turn; tokenizer requests per turn;
    time to get the chat (built or from the cache); whether a full collection ran in each."""
    root = base_url.removesuffix("/v1")
    latencies: list[float] = []
    collected: list[bool] = []
    tokenizes = 0
    async with httpx.AsyncClient() as probe:
        with tempfile.TemporaryDirectory() as folder:
            started = time.perf_counter()
            database = await chat_file(history, Path(folder))
            prepared = time.perf_counter() - started
            async with running_bot(database, base_url) as bot:
                for n in range(WARM_UP + turns):
                    await arrivals(probe, root)  # forget what came before
                    with FullCollections() as full:
                        sent = time.monotonic()
                        await turn(bot, n)
                    seen, counted = await arrivals(probe, root)
                    if len(seen) != 1:
                        raise RuntimeError(f"expected one chat request, saw {len(seen)}")
                    if n >= WARM_UP:
                        latencies.append(seen[0] - sent)
                        collected.append(full.count > 0)
                        tokenizes += counted
    return latencies, tokenizes / turns, prepared, collected


async def bare_latencies(base_url: str, turns: int) -> list[float]:
    """The floor: a bare httpx streaming POST, from the call to the endpoint's arrival."""
    root = base_url.removesuffix("/v1")
    latencies = []
    async with httpx.AsyncClient() as probe, build_http_client(StreamTimeouts()) as http:
        for n in range(WARM_UP + turns):
            await arrivals(probe, root)
            sent = time.monotonic()
            url = f"{base_url}/chat/completions"
            async with http.stream("POST", url, json=BARE_BODY) as response:
                await response.aread()
            seen, _ = await arrivals(probe, root)
            if n >= WARM_UP:
                latencies.append(seen[0] - sent)
    return latencies


def quantile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


Row = tuple[str, list[float], float, float, list[bool]]


def table(rows: list[Row], turns: int) -> str:
    lines = [
        "| chat | p50 | p99 | max | turns with a full GC | p99 of the others "
        "| tokenizer requests per turn | chat ready in |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, latencies, tokenizes, prepared, collected in rows:
        p50, p99 = quantile(latencies, 0.5), quantile(latencies, 0.99)
        ready = f"{prepared:.1f} s" if prepared else "-"
        others = [x for x, full in zip(latencies, collected, strict=True) if not full]
        rest = f"{quantile(others, 0.99) * 1e3:.2f} ms" if len(others) > 1 else "-"
        lines.append(
            f"| {name} | {p50 * 1e3:.2f} ms | {p99 * 1e3:.2f} ms | {max(latencies) * 1e3:.2f} ms "
            f"| {sum(collected)} | {rest} | {tokenizes:.1f} | {ready} |"
        )
    lines += [
        "",
        f"{turns} turns per chat one after another (after {WARM_UP} unmeasured), each from just "
        "before `service.handle` to the fake endpoint having read the chat request, in another "
        "process, on the shared monotonic clock; one-token replies; a character card in the "
        "channel. 'chat ready in': building the chat by bulk insert, or copying it from the "
        "cache of an earlier run. A full GC: a generation-2 collection began during the turn "
        "(`gc.callbacks`). Goal: p99 at most 3 ms.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}.",
    ]
    return "\n".join(lines)


async def measure(base_url: str, sizes: list[int], turns: int) -> list[Row]:
    floor = await bare_latencies(base_url, turns)
    rows: list[Row] = [("bare httpx POST (floor)", floor, 0.0, 0.0, [False] * len(floor))]
    for size in sizes:
        latencies, tokenizes, prepared, collected = await chat_latencies(base_url, size, turns)
        rows.append((f"{size:,} stored messages", latencies, tokenizes, prepared, collected))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 100_000])
    parser.add_argument("--turns", type=int, default=300, help="measured turns per chat")
    parser.add_argument("--smoke", action="store_true", help="tiny: a 100-message chat, 5 turns")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the README")
    args = parser.parse_args()
    if args.smoke:
        args.sizes, args.turns, args.no_write = [100], 5, True
    with endpoint_process("bench.arrival_endpoint") as endpoint:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:  # the endpoint's work is not the bot's latency
            os.sched_setaffinity(endpoint.pid, {cpus[-1]})
            os.sched_setaffinity(0, {cpus[0]})
        rows = asyncio.run(measure(endpoint.base_url, args.sizes, args.turns))
    output = table(rows, args.turns)
    print(output)
    if not args.no_write:
        write_table(README, "turn_latency", output)


if __name__ == "__main__":
    main()
