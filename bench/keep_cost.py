"""What keeping a streaming reply's text costs per token: the whole turn, keeper on and off.

A crash must not lose text the chat saw, so a streaming reply's text so far is stored before
each step of it is shown, at most once a second (`bot/service/turns/keeping.py`). This measures the
bot's CPU per streamed token with that keeper and with a keeper that stores nothing, on the
whole turn path: `Parlor` on a SQLite file, the real client, the paced editor, a recording
platform. The fake model runs in a process of its own, streaming at a model's pace.
Run `python bench/keep_cost.py` from the repository root; it rewrites its table in
bench/README.md (`--no-write` leaves it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from endpoints import endpoint_process  # noqa: E402  (beside this script)
from readme_tables import write_table  # noqa: E402

from bot.core.domain import MessageId  # noqa: E402
from bot.core.ports import Clock, ShownTextKeeper, Store  # noqa: E402
from bot.service.turns.keeping import PartialReplyKeeper  # noqa: E402

README = ROOT / "bench" / "README.md"
TARGET_EXTRA = 0.05


MODES = ("off", "on")


class NothingKept:
    """The keeper switched off: every step of text may be shown at once, nothing is stored."""

    def seconds_until_next_keep(self, now: float) -> float:
        return 0.0

    def keep(self) -> Coroutine[None, None, None]:
        return asyncio.sleep(0)


class KeeperSwitch:
    """The bot's keeper factory for this benchmark: each reply gets the real keeper (counted,
    to sum its keeps) while `keeping` is on, one that stores nothing while it is off."""

    def __init__(self) -> None:
        self.keeping = True
        self.keepers: list[PartialReplyKeeper] = []

    def __call__(
        self,
        store: Store,
        reply_id: MessageId,
        *,
        clock: Clock,
        source: Callable[[], tuple[str, str]],
    ) -> ShownTextKeeper:
        if not self.keeping:
            return NothingKept()
        keeper = PartialReplyKeeper(store, reply_id, clock=clock, source=source)
        self.keepers.append(keeper)
        return keeper


async def turns(
    base_url: str, *, streams: int, tokens: int, rounds: int
) -> dict[str, list[tuple[float, int]]]:
    """Rounds of `streams` simultaneous turns of `tokens` tokens, keeping off and on in
    turn within one process (so both meet the same interpreter, heap and caches): per mode,
    each round's CPU seconds of this process and how many keeps it made."""
    from bot.app import Parlor
    from bot.config import Settings
    from bot.core.clock import SystemClock
    from bot.core.domain import Actor, ChannelKey, CommandCall, Incoming, MessageStatus, Permission
    from tests.fakes.recording_replier import DISCORD_LIKE, RecordingReplier

    switch = KeeperSwitch()
    results: dict[str, list[tuple[float, int]]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]  # pydantic-settings' own keyword
            database_url=f"sqlite+aiosqlite:///{folder}/parlor.db",
            default_base_url=base_url,
            default_model="any",
        )
        async with Parlor(settings, keeper=switch) as parlor:
            service = parlor.service
            assert service is not None

            async def one(room: str) -> None:
                channel = ChannelKey("bench", room)
                operator = Actor("op", "Op", Permission.OPERATOR)
                length = CommandCall("params", {"max_tokens": str(tokens)}, channel, operator)
                await service.run_command(length)
                replier = RecordingReplier(SystemClock(), limits=DISCORD_LIKE)
                said = Incoming(channel, author_id="ann", author_name="Ann", text="count")
                outcome = await service.handle(said, replier)
                assert outcome.status is MessageStatus.COMPLETE, outcome
                assert outcome.content.count(" t") == tokens

            for mode in MODES:  # warm-up: imports, pool, caches
                switch.keeping = mode == "on"
                await one(f"warm-{mode}")
            for round_ in range(rounds):
                for mode in MODES:
                    switch.keeping = mode == "on"
                    switch.keepers.clear()
                    started = time.process_time()
                    await asyncio.gather(*(one(f"{round_}-{mode}-{n}") for n in range(streams)))
                    spent = time.process_time() - started
                    results[mode].append((spent, sum(k.keeps for k in switch.keepers)))
    return results


async def keep_cpu_seconds(calls: int = 2000, chars: int = 2000) -> float:
    """CPU of one keep on its own: the store's keeping path on a SQLite file, text of a
    reply `chars` long, the process's write lock taken as in a running bot."""
    from bot.core.domain import ChannelKey, NewUserMessage
    from bot.storage.db import create_engine, create_sessions, write_lock
    from bot.storage.keeping import SqliteKeeping
    from bot.storage.migrate import upgrade_to_head
    from bot.storage.store import SqlStore

    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/parlor.db"
        await upgrade_to_head(url)
        engine = create_engine(url)
        sessions = create_sessions(engine)
        keeping = SqliteKeeping.for_url(url, write_lock=write_lock(sessions))
        store = SqlStore(sessions, secret_box=None, keeping=keeping)
        chat = (await store.load_channel(ChannelKey("bench", "keep"))).chat_id
        reply = (
            await store.begin_turn(chat, NewUserMessage("1", "Ann", "hi"))
        ).assistant_message_id
        text = "word " * (chars // 5)
        await store.save_partial(reply, content=text, reasoning="")  # warm-up
        started = time.process_time()
        for n in range(calls):
            await store.save_partial(reply, content=text[: chars - n % 50], reasoning="")
        spent = time.process_time() - started
        if keeping is not None:
            await keeping.aclose()
        await engine.dispose()
    return spent / calls


def measure(
    token_interval: float, streams: int, tokens: int, rounds: int
) -> dict[str, list[tuple[float, int]]]:
    """The rounds of one model pace, in a fresh interpreter."""
    command = [
        sys.executable, str(Path(__file__).resolve()), "--one",
        "--token-interval", str(token_interval), "--streams", str(streams),
        "--tokens", str(tokens), "--rounds", str(rounds),
    ]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pace {token_interval} failed:\n{done.stderr[-2000:]}")
    results: dict[str, list[tuple[float, int]]] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


Row = tuple[float, int, float, float, float]
"""Model pace (s/token), tokens in all, CPU/token off and on (medians), keeps per token."""


def table(rows: list[Row], keep_seconds: float) -> str:
    lines = [
        "| model pace | tokens | CPU/token, keeping off | keeping on | measured extra "
        "| keeps per 100 tokens | extra from the keeps' own CPU |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    measured = [(on - off) / off for _, _, off, on, _ in rows]
    own = [keeps * keep_seconds / off for _, _, off, _, keeps in rows]
    for (interval, tokens, off, on, keeps), extra, derived in zip(rows, measured, own, strict=True):
        lines.append(
            f"| {1 / interval:.0f} tokens/s | {tokens:,} | {off * 1e6:.0f} µs | {on * 1e6:.0f} µs "
            f"| {extra:+.1%} | {keeps * 100:.1f} | {derived:+.1%} |"
        )
    verdict = "within" if max(measured) <= TARGET_EXTRA else "OVER"
    lines += [
        "",
        f"Worst measured extra {max(measured):+.1%}: {verdict} the {TARGET_EXTRA:.0%} target. "
        "Whole-turn CPU of the bot process (the model runs in another), medians of rounds "
        "that switch keeping off and on in turn within one process. One keep costs "
        f"{keep_seconds * 1e6:.0f} µs of CPU measured alone (2,000 keeps of a "
        "2,000-character reply); the last column is that times the keeps per token counted "
        "in the same rounds, over the CPU per token with keeping off. "
        f"Machine: {platform.machine()}, Linux; Python {platform.python_version()}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--token-interval", type=float, default=0.02)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if args.one:
        paced = ("--scenario", "paced", "--token-interval", str(args.token_interval))
        with endpoint_process("tests.fakes.openai.server", "--port", "0", *paced) as endpoint:
            results = asyncio.run(
                turns(
                    endpoint.base_url, streams=args.streams, tokens=args.tokens, rounds=args.rounds
                )
            )
        print(json.dumps(results))
        return
    keep_seconds = asyncio.run(keep_cpu_seconds())
    rows: list[Row] = []
    total = args.streams * args.tokens
    for interval in (0.02, 0.05):
        results = measure(interval, args.streams, args.tokens, args.rounds)
        off = statistics.median(cpu / total for cpu, _ in results["off"])
        on = statistics.median(cpu / total for cpu, _ in results["on"])
        keeps = statistics.median(kept for _, kept in results["on"])
        rows.append((interval, total, off, on, keeps / total))
        print(f"{interval}: {results}", flush=True)
    text = table(rows, keep_seconds)
    print(text)
    if not args.no_write:
        write_table(README, "keep_cost", text)


if __name__ == "__main__":
    main()
