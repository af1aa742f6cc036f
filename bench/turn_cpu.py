"""T1 (issue 17): CPU per turn of the whole bot against a bare httpx loop doing the same request.

A console-like turn through the real service (bench/turn_rig.py: SQLite file stores, a
character card in the channel, the real client and endpoint tokenizer, a recording replier)
in a chat of 1,000 stored messages, the model answering one token; against a bare loop on the
same kind of httpx client that sends the request body the bot sent (captured from its
client) and reads the one-token reply with `aiter_lines` + `json.loads`. The fake server runs
in its own process (pinned to another CPU when there is one). Rounds alternate the two,
best of rounds. Run `python bench/turn_cpu.py` from the repository root; it rewrites its
table in bench/README.md (`--no-write` leaves it). `--profile FILE` also runs turns under
pyinstrument and writes its HTML there, with a top-functions summary on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402
from endpoints import endpoint_process  # noqa: E402  (beside this script)
from readme_tables import write_table  # noqa: E402
from turn_rig import Bot, chat_file, running_bot, turn  # noqa: E402

from bot.llm.client import build_http_client  # noqa: E402
from bot.llm.deadline import StreamTimeouts  # noqa: E402

README = ROOT / "bench" / "README.md"
BOT = "Parlor turn (service.handle)"
BARE = "bare httpx loop, same request"


async def captured_request(bot: Bot, n: int) -> dict[str, Any]:
    """The JSON body of the chat request the bot sends in one turn."""
    bodies: list[dict[str, Any]] = []

    async def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("/chat/completions"):
            bodies.append(json.loads(request.content))

    hooks = bot.trusted_http.event_hooks
    bot.trusted_http.event_hooks = {**hooks, "request": [*hooks["request"], hook]}
    try:
        await turn(bot, n)
    finally:
        bot.trusted_http.event_hooks = hooks
    if len(bodies) != 1:
        raise RuntimeError(f"expected one chat request in a turn, saw {len(bodies)}")
    return bodies[0]


def bare_loop(
    http: httpx.AsyncClient, url: str, body: dict[str, Any]
) -> Callable[[int], Awaitable[None]]:
    async def one(n: int) -> None:
        received = []
        async with http.stream("POST", url, json=body) as response:
            async for line in response.aiter_lines():
                if not line.startswith("data: "):
                    continue
                data = line[6:]
                if data == "[DONE]":
                    break
                choices = json.loads(data).get("choices")
                if choices and choices[0]["delta"].get("content"):
                    received.append(choices[0]["delta"]["content"])
        if not received:
            raise RuntimeError("the bare loop read no token")

    return one


async def timed(step: Callable[[int], Awaitable[None]], turns: int, first: int) -> float:
    """CPU seconds of this process (every thread) per call, `turns` calls one after another."""
    started = time.process_time()
    for n in range(first, first + turns):
        await step(n)
    return (time.process_time() - started) / turns


async def measure(
    base_url: str,
    *,
    history: int,
    turns: int,
    rounds: int,
    profile: Path | None,
    stages: bool = False,
) -> tuple[dict[str, list[float]], int, dict[str, float], str]:
    """Per client, each round's CPU seconds per turn; the request's size; the main thread's
    share of the bot's CPU (the rest is aiosqlite's and the keeper's threads); with `stages`,
    the table of the turn's steps."""
    results: dict[str, list[float]] = {BOT: [], BARE: []}
    body: dict[str, Any] = {}
    threads: dict[str, float] = {}
    steps = ""
    async with build_http_client(StreamTimeouts()) as http:
        url = f"{base_url}/chat/completions"
        for round_ in range(rounds):
            # A fresh copy of the chat each round, so that every round meets the same prompt.
            with tempfile.TemporaryDirectory() as folder:
                database = await chat_file(history, Path(folder))
                async with running_bot(database, base_url) as bot:
                    for n in range(3):  # warm-up: imports, token counts cached, tokenizer probed
                        await turn(bot, -1 - n)
                    if not body:
                        body = await captured_request(bot, -10)
                        await timed(bare_loop(http, url, body), 3, 0)
                    results[BOT].append(await timed(lambda n: turn(bot, n), turns, 0))
                    if round_ == rounds - 1:
                        threads = await thread_split(bot, turns, turns)
                        if profile is not None:
                            await profiled(bot, turns, 2 * turns, profile)
                        if stages:
                            steps = await staged(bot, turns, 3 * turns)
            results[BARE].append(await timed(bare_loop(http, url, body), turns, 0))
    return results, len(json.dumps(body)), threads, steps


async def only_turns(base_url: str, history: int, turns: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        database = await chat_file(history, Path(folder))
        async with running_bot(database, base_url) as bot:
            for n in range(turns):
                await turn(bot, n)


async def thread_split(bot: Bot, turns: int, first: int) -> dict[str, float]:
    """How much of a turn's CPU runs on the event loop's thread, and how much elsewhere."""
    process, thread = time.process_time(), time.thread_time()
    for n in range(first, first + turns):
        await turn(bot, n)
    process, thread = time.process_time() - process, time.thread_time() - thread
    return {"process": process / turns, "loop thread": thread / turns}


async def staged(bot: Bot, turns: int, first: int) -> str:
    """Turns with their steps timed (bench/turn_stages.py): the steps' table."""
    from turn_stages import Stages

    steps = Stages()
    steps.watch()
    try:
        started = time.thread_time()
        for n in range(first, first + turns):
            await turn(bot, n)
        spent = time.thread_time() - started
    finally:
        steps.unwatch()
    return steps.table(turns, spent)


async def profiled(bot: Bot, turns: int, first: int, output: Path) -> None:
    """Turns under pyinstrument (the event loop's thread), as HTML, plus a summary."""
    from pyinstrument import Profiler
    from turn_profile import summary

    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    for n in range(first, first + turns):
        await turn(bot, n)
    profiler.stop()
    await asyncio.to_thread(output.write_text, profiler.output_html(), encoding="utf-8")
    print(summary(profiler.last_session, turns))


def table(
    results: dict[str, list[float]], history: int, turns: int, body_bytes: int,
    threads: dict[str, float],
) -> str:  # fmt: skip
    best = {name: min(runs) for name, runs in results.items()}
    rows = ["| loop | µs CPU per turn | vs bare httpx |", "|---|---:|---:|"]
    for name, cpu in best.items():
        rows.append(f"| {name} | {cpu * 1e6:,.0f} | {cpu / best[BARE]:.2f} |")
    versions = ", ".join(f"{p} {version(p)}" for p in ("httpx", "sqlalchemy", "aiosqlite"))
    loop_share = threads["loop thread"] / threads["process"]
    rows += [
        "",
        f"A chat of {history:,} stored messages with a character card (request body "
        f"{body_bytes:,} bytes), one-token replies; {turns} turns one after another per "
        f"round, best of {len(results[BOT])} interleaved rounds (the machine may be shared); "
        f"CPU of the whole process from `time.process_time()`, {loop_share:.0%} of the "
        "bot's on the event loop's thread (the rest: aiosqlite's and the keeper's threads); "
        "the fake server in its own process on another CPU. Goal: at most 2.00 times.",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}; {versions}.",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--history", type=int, default=1_000, help="stored messages in the chat")
    parser.add_argument("--turns", type=int, default=100, help="turns per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=Path, default=None, help="write pyinstrument HTML here")
    parser.add_argument(
        "--stages", action="store_true", help="also time the turn's steps (bench/turn_stages.py)"
    )
    parser.add_argument(
        "--only-turns",
        type=int,
        default=0,
        help="run this many bot turns, measure nothing "
        "(for an outside profiler: py-spy record -r 500 -f raw -- python bench/turn_cpu.py …)",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny: 100 messages, 3 turns, 1 round")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the README")
    args = parser.parse_args()
    if args.smoke:
        args.history, args.turns, args.rounds, args.no_write = 100, 3, 1, True
    with endpoint_process("tests.fakes.openai.server", "--port", "0") as endpoint:
        if args.only_turns:
            asyncio.run(only_turns(endpoint.base_url, args.history, args.only_turns))
            return
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:  # keep the server's CPU out of the bot's way
            os.sched_setaffinity(endpoint.pid, {cpus[-1]})
            os.sched_setaffinity(0, {cpus[0]})
        results, body_bytes, threads, steps = asyncio.run(
            measure(
                endpoint.base_url,
                history=args.history,
                turns=args.turns,
                rounds=args.rounds,
                profile=args.profile,
                stages=args.stages,
            )
        )
    output = table(results, args.history, args.turns, body_bytes, threads)
    print(output)
    if steps:
        print(steps)
    if not args.no_write:
        write_table(README, "turn_cpu", output)
        if steps:
            write_table(README, "turn_stages", steps)


if __name__ == "__main__":
    main()
