"""A conversation service wired to a real SQLite store, a scripted endpoint and a recording chat."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import app
from bot.app import Stores, sql_stores
from bot.core.domain import (
    Actor,
    ChannelKey,
    CommandCall,
    CommandResult,
    Connection,
    Incoming,
    ModelPrice,
    Permission,
    PlatformLimits,
    TurnOutcome,
)
from bot.core.errors import UsageError
from bot.core.ports import Clock, EndpointGuard, TokenCounter
from bot.core.quotas import NO_LIMITS, Limits
from bot.reply.pacing import Pacing
from bot.service.conversations import ConversationService
from bot.service.turns.prompting import Budget
from bot.service.turns.tokens import EstimatingCounter
from bot.storage.db import create_engine, create_sessions
from bot.storage.secrets import SecretBox
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import ScriptedClient
from tests.fakes.recording_replier import RecordingReplier

CHANNEL = ChannelKey("test", "general")
WALL_CLOCK = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)
LIMITS = PlatformLimits(max_length=2000, writes_per_window=5, window_seconds=5.0)
OPERATOR = Connection("http://operator.example/v1", model="op-model", trusted=True)
"""The operator's endpoint every harness starts with."""


@dataclass
class Harness:
    service: ConversationService
    stores: Stores[SqlStore]
    client: ScriptedClient
    clock: FakeClock

    @property
    def store(self) -> SqlStore:
        return self.stores.store

    def rewired(self, *, default: Connection | None, queue_size: int = 3) -> Harness:
        """The same stores, endpoint and clock behind a service wired with other settings."""
        service = build_service(
            self.stores, self.client, self.clock, default=default, queue_size=queue_size
        )
        return Harness(service, self.stores, self.client, self.clock)

    def replier(self) -> RecordingReplier:
        return RecordingReplier(self.clock, limits=LIMITS)

    async def say(
        self,
        text: str,
        *,
        replier: RecordingReplier | None = None,
        author: str = "ann",
        channel: ChannelKey = CHANNEL,
        server: str | None = None,
    ) -> TurnOutcome:
        incoming = Incoming(
            channel, author_id=author, author_name=author.title(), text=text, server=server
        )
        return await self.service.handle(incoming, replier or self.replier())

    async def command(
        self,
        command: str,
        /,
        *,
        permission: Permission = Permission.OPERATOR,
        user: str = "ann",
        channel: ChannelKey = CHANNEL,
        server: str | None = None,
        **options: str,
    ) -> CommandResult:
        actor = Actor(user, user.title(), permission)
        call = CommandCall(command, options, channel, actor, server=server)
        return await self.service.run_command(call)


def build_service(
    stores: Stores[SqlStore],
    client: ScriptedClient,
    clock: Clock,
    *,
    default: Connection | None,
    queue_size: int = 3,
    guard: EndpointGuard | None = None,
    token_counter: TokenCounter | None = None,
    budget: Budget | None = None,
    wall_clock: Callable[[], datetime] = lambda: WALL_CLOCK,
    prices: Mapping[str, ModelPrice] | None = None,
    limits: Limits = NO_LIMITS,
    shared_lanes: bool = False,
) -> ConversationService:
    """The application's wiring with the harness's fakes: no network, a fixed wall clock
    unless another is given, token counts estimated, history read 50 messages a page."""
    return app.build_service(
        stores,
        client=client,
        fetcher=NoDownloads(),
        clock=clock,
        pacing=Pacing(clock=clock),
        token_counter=token_counter or EstimatingCounter(),
        budget=budget or Budget(page_size=50),
        wall_clock=wall_clock,
        queue_size=queue_size,
        default_connection=default,
        guard=guard,
        prices=prices,
        limits=limits,
        shared_lanes=shared_lanes,
    )


class NoDownloads:
    """The service harness has no network: a card link is refused as a real dead link is."""

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        raise UsageError(f"couldn't download the card: nothing answers at {url}")


@pytest.fixture
def secret_box() -> SecretBox:
    return SecretBox.from_keys([Fernet.generate_key().decode()])


@pytest.fixture
async def sessions(migrated_sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(migrated_sqlite_url)
    yield create_sessions(engine)
    await engine.dispose()


@pytest.fixture
def stores(sessions: async_sessionmaker[AsyncSession], secret_box: SecretBox) -> Stores[SqlStore]:
    """The application's four stores over this test's database, keys encrypted."""
    return sql_stores(sessions, secret_box=secret_box)


@pytest.fixture
async def store(migrated_sqlite_url: str) -> AsyncIterator[SqlStore]:
    engine = create_engine(migrated_sqlite_url)
    box = SecretBox.from_keys([Fernet.generate_key().decode()])
    yield SqlStore(create_sessions(engine), secret_box=box)
    await engine.dispose()


@pytest.fixture
def client() -> ScriptedClient:
    return ScriptedClient()


@pytest.fixture
def harness(stores: Stores[SqlStore], client: ScriptedClient) -> Harness:
    # Auto mode: virtual time jumps only when every task waits; the store's
    # thread hops may let it jump early, which only ever loosens pacing here.
    clock = FakeClock(auto=True)
    return Harness(build_service(stores, client, clock, default=OPERATOR), stores, client, clock)
