"""The whole bot for the turn benchmarks (turn_cpu.py, turn_latency.py), wired as `Parlor` wires
it but without a platform: `bot.app.build_service` over real SQLite file stores, the real
`OpenAICompatClient` and endpoint tokenizer over real httpx, the operator's endpoint being a
fake OpenAI server in another process. A turn is what a console line is: `service.handle`
with an `Incoming`, answered into a recording replier that never throttles.

Long chats are built once per size by a bulk insert (SQLAlchemy Core, 10,000 rows a
statement) and kept under the temp dir, keyed by the schema's migrations; each run copies one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy import insert

from bot.app import Stores, build_service, platform_pacing, sql_stores
from bot.characters.card import CharacterCard
from bot.config import Settings
from bot.core.clock import SystemClock
from bot.core.domain import (
    Actor,
    ChannelChanges,
    ChannelKey,
    CommandCall,
    Connection,
    Incoming,
    MessageStatus,
    Permission,
    PlatformLimits,
)
from bot.llm.client import OpenAICompatClient, build_http_client
from bot.llm.deadline import StreamTimeouts
from bot.llm.fetch import GuardedFetcher
from bot.llm.guard import AddressGuard, EndpointPolicy, build_guarded_http_client
from bot.llm.tokenize import EndpointTokenizer
from bot.service.conversations import ConversationService
from bot.service.turns.prompting import Budget
from bot.storage.db import create_engine, create_sessions, write_lock
from bot.storage.keeping import SqliteKeeping
from bot.storage.migrate import upgrade_to_head
from bot.storage.store import SqlStore
from bot.storage.tables import MessageRow
from tests.fakes.recording_replier import RecordingReplier

ROOT = Path(__file__).resolve().parent.parent
MODEL = "scenario/count"  # the fake answers `max_tokens` tokens: one here
CHANNEL = ChannelKey("console", "bench")
SCOPE = "console"
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
UNTHROTTLED = PlatformLimits(max_length=4000, writes_per_window=100_000, window_seconds=1.0)
"""A local fake platform: the turn's CPU and latency, not a platform's budget, are measured."""
CACHE = Path(tempfile.gettempdir()) / "parlor-bench"


@dataclass(frozen=True, slots=True)
class Bot:
    service: ConversationService
    stores: Stores[SqlStore]
    trusted_http: httpx.AsyncClient
    """The client the operator's endpoint is reached through (hooks may watch it)."""


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def _schema_key() -> str:
    """Changes whenever a migration is added or edited: a cached chat of an older schema is
    never reused."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "bot" / "migrations" / "versions").glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(LINE.encode())
    return digest.hexdigest()[:12]


async def _fill(path: Path, messages: int) -> None:
    """A chat of `messages` alternating user/assistant rows in CHANNEL's chat, 10,000 rows a
    statement through SQLAlchemy Core (about 2 s for 100,000 here)."""
    url = sqlite_url(path)
    await upgrade_to_head(url)
    engine = create_engine(url)
    try:
        store = SqlStore(create_sessions(engine), secret_box=None)
        chat_id = (await store.load_channel(CHANNEL)).chat_id
        now = datetime.now(UTC)
        rows = [
            {
                "chat_id": chat_id,
                "role": "user" if n % 2 == 0 else "assistant",
                "author_id": "ann" if n % 2 == 0 else None,
                "author_name": "Ann" if n % 2 == 0 else None,
                "content": LINE.format(n=n) * 2,
                "reasoning": "",
                "status": "complete",
                "swipe_index": 0,
                "created_at": now,
                "updated_at": now,
            }
            for n in range(messages)
        ]
        statement = insert(MessageRow.__table__)
        async with engine.begin() as connection:
            for start in range(0, len(rows), 10_000):
                await connection.execute(statement, rows[start : start + 10_000])
    finally:
        await engine.dispose()


async def chat_file(messages: int, folder: Path) -> Path:
    """A copy, in `folder`, of a database holding a chat of `messages` stored messages in
    CHANNEL (built the first time, then taken from the cache)."""
    CACHE.mkdir(exist_ok=True)
    cached = CACHE / f"chat-{messages}-{_schema_key()}.db"
    if not cached.exists():
        building = CACHE / f"{cached.name}.{os.getpid()}.building"
        building.unlink(missing_ok=True)
        await _fill(building, messages)
        os.replace(building, cached)  # whole or not at all, should two runs race
    target = folder / "parlor.db"
    shutil.copyfile(cached, target)
    return target


@asynccontextmanager
async def running_bot(database: Path, base_url: str) -> AsyncIterator[Bot]:
    """The service over `database`, its operator endpoint at `base_url`, with the settings'
    defaults for the context; closed (clients, keeping, engine) when the block ends."""
    url = sqlite_url(database)
    await upgrade_to_head(url)
    engine = create_engine(url)
    sessions = create_sessions(engine)
    keeping = SqliteKeeping.for_url(url, write_lock=write_lock(sessions))
    stores = sql_stores(sessions, secret_box=None, keeping=keeping)
    timeouts = StreamTimeouts()
    policy = EndpointPolicy()
    guarded = build_guarded_http_client(policy, timeouts)
    trusted = build_http_client(timeouts)
    clock = SystemClock()
    defaults = Settings.model_fields
    try:
        service = build_service(
            stores,
            client=OpenAICompatClient(guarded, timeouts=timeouts, trusted_http=trusted),
            fetcher=GuardedFetcher(guarded),
            clock=clock,
            pacing=platform_pacing(clock),
            token_counter=EndpointTokenizer(guarded, trusted_http=trusted),
            budget=Budget(
                context_size=defaults["context_size"].default,
                reply_reserve=defaults["reply_tokens"].default,
                max_messages=defaults["history_messages"].default,
            ),
            wall_clock=lambda: datetime.now().astimezone(),
            queue_size=defaults["channel_queue_size"].default,
            default_connection=Connection(base_url, model=MODEL, trusted=True),
            guard=AddressGuard(policy),
        )
        await _with_card(service, stores)
        yield Bot(service, stores, trusted)
    finally:
        await guarded.aclose()
        await trusted.aclose()
        if keeping is not None:
            await keeping.aclose()
        await engine.dispose()


async def _with_card(service: ConversationService, stores: Stores[SqlStore]) -> None:
    """CHANNEL speaks as the card, and the model is asked for one token a reply."""
    stored = await stores.characters.save_character(SCOPE, CARD, None)
    await stores.store.update_channel(CHANNEL, ChannelChanges(character_id=stored.id))
    operator = Actor("op", "Op", Permission.OPERATOR)
    await service.run_command(CommandCall("params", {"max_tokens": "1"}, CHANNEL, operator))


async def turn(bot: Bot, n: int) -> None:
    """One console-like turn: a line from Ann like the stored ones, answered with one token."""
    replier = RecordingReplier(SystemClock(), limits=UNTHROTTLED)
    # As long as the stored lines: the prompt keeps about as many messages however many
    # turns have run (short lines would let ever more of them into the context).
    said = Incoming(CHANNEL, author_id="ann", author_name="Ann", text=LINE.format(n=n) * 2)
    outcome = await bot.service.handle(said, replier)
    if outcome.status is not MessageStatus.COMPLETE or not replier.texts:
        raise RuntimeError(f"turn {n} did not complete: {outcome}")
