"""Prompt building against chats of 100 to 100,000 stored messages: the cost must stay flat.

Run `python bench/prompt_build.py` from the repository root; it rewrites its table in
bench/README.md. Each chat lives in a real SQLite file (the bot's own schema, migrated by
alembic) and is filled with a bulk insert; then the bot's `PromptFactory` builds the prompt
for a character channel the way a turn does: load the character, read history pages newest
first until the context is full, count tokens (cached per message), fit.

Two timings per size: the first build, which counts and caches every message that fits, and
the steady state (median of the next builds), which is what every later turn pays.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from readme_tables import write_table  # noqa: E402  (beside this script)

from bot.characters.card import CharacterCard  # noqa: E402
from bot.core.domain import ChannelChanges, ChannelKey, Connection, NewUserMessage  # noqa: E402
from bot.service.turns.prompting import Budget, PromptFactory, Speaker  # noqa: E402
from bot.service.turns.tokens import EstimatingCounter, TokenBook  # noqa: E402
from bot.storage.characters import SqlCharacters  # noqa: E402
from bot.storage.db import create_engine, create_sessions  # noqa: E402
from bot.storage.migrate import upgrade_to_head  # noqa: E402
from bot.storage.personas import SqlPersonas  # noqa: E402
from bot.storage.store import SqlStore  # noqa: E402

README = ROOT / "bench" / "README.md"
CHANNEL = ChannelKey("bench", "channel")
CONNECTION = Connection("http://127.0.0.1:9/v1", model="bench", trusted=True)
CARD = CharacterCard(
    name="Alice",
    description="{{char}} is a cat who lives with {{user}}. " * 20,
    personality="curious, sleepy, proud",
    scenario="A sunny afternoon in a small flat.",
    first_mes="*stretches* Hello, {{user}}.",
    mes_example="<START>\n{{user}}: Hi\n{{char}}: Meow.\n<START>\n{{user}}: Food?\n{{char}}: Yes.",
    post_history_instructions="Stay in character as {{char}}.",
)
LINE = "This is message number {n}; it says a little about the afternoon and the cat. "


async def fill(url: str, messages: int) -> None:
    """A chat of `messages` alternating user/assistant rows, inserted in bulk."""
    engine = create_engine(url)
    store = SqlStore(create_sessions(engine), secret_box=None)
    state = await store.load_channel(CHANNEL)
    now = datetime.now(UTC)
    rows = [
        {
            "chat_id": state.chat_id,
            "role": "user" if n % 2 == 0 else "assistant",
            "author_id": "bob" if n % 2 == 0 else None,
            "author_name": "Bob" if n % 2 == 0 else None,
            "content": LINE.format(n=n) * 2,
            "reasoning": "",
            "status": "complete",
            "swipe_index": 0,
            "created_at": now,
            "updated_at": now,
        }
        for n in range(messages)
    ]
    insert = sqlalchemy.text(
        "INSERT INTO messages (chat_id, role, author_id, author_name, content, reasoning, "
        "status, swipe_index, created_at, updated_at) VALUES (:chat_id, :role, :author_id, "
        ":author_name, :content, :reasoning, :status, :swipe_index, :created_at, :updated_at)"
    )
    async with engine.begin() as connection:
        for start in range(0, len(rows), 10_000):
            await connection.execute(insert, rows[start : start + 10_000])
    await engine.dispose()


async def measure(messages: int, builds: int) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'bench.db'}"
        await upgrade_to_head(url)
        await fill(url, messages)
        engine = create_engine(url)
        sessions = create_sessions(engine)
        store = SqlStore(sessions, secret_box=None)
        characters = SqlCharacters(sessions, secret_box=None)
        stored = await characters.save_character("bench", CARD, None)
        await store.update_channel(CHANNEL, ChannelChanges(character_id=stored.id))
        factory = PromptFactory(
            store=store,
            characters=characters,
            personas=SqlPersonas(sessions, secret_box=None),
            tokens=TokenBook(EstimatingCounter(), store),
            budget=Budget(context_size=8192, reply_reserve=512, max_messages=100_000),
            wall_clock=lambda: datetime.now(UTC),
        )
        speaker = Speaker("bob", "Bob")
        new = NewUserMessage("bob", "Bob", "And what happens next?")
        timings = []
        kept = 0
        for _ in range(builds + 1):
            state = await store.load_channel(CHANNEL)
            started = time.perf_counter()
            built = await factory.build(state, CONNECTION, "bench", speaker=speaker, new=new)
            timings.append(time.perf_counter() - started)
            kept = built.fitted.history_kept
        await engine.dispose()
    return timings[0], statistics.median(timings[1:]), kept


def table(results: dict[int, tuple[float, float, int]], builds: int) -> str:
    rows = [
        "| stored messages | first build (counts and caches) | later builds (median) "
        "| messages in the prompt |",
        "|---:|---:|---:|---:|",
    ]
    for size, (first, steady, kept) in results.items():
        rows.append(f"| {size:,} | {first * 1000:.1f} ms | {steady * 1000:.1f} ms | {kept} |")
    versions = f"Python {platform.python_version()}, SQLAlchemy {sqlalchemy.__version__}"
    rows.append("")
    rows.append(
        f"Context 8,192 tokens, 512 kept for the reply, a character card with example dialogue; "
        f"median of {builds} builds after the first; token counts from the estimate. "
        f"Machine: {platform.machine()}, {platform.system()}; {versions}."
    )
    return "\n".join(rows)


async def main(sizes: list[int], builds: int) -> dict[int, tuple[float, float, int]]:
    return {size: await measure(size, builds) for size in sizes}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 10_000, 100_000])
    parser.add_argument("--builds", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only; leave the README")
    args = parser.parse_args()
    output = table(asyncio.run(main(args.sizes, args.builds)), args.builds)
    print(output)
    if not args.no_write:
        write_table(README, "prompt_build", output)
