"""A conversation service wired to a real SQLite store, a scripted endpoint and a recording chat."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet

from bot.core.domain import (
    Actor,
    ChannelKey,
    CommandCall,
    CommandResult,
    Connection,
    Incoming,
    Permission,
    PlatformLimits,
    TurnOutcome,
)
from bot.core.errors import UsageError
from bot.core.ports import EndpointGuard
from bot.reply.streaming import Pacing
from bot.service.conversations import ConversationService
from bot.service.turns.prompting import Budget, PromptFactory
from bot.service.turns.queue import ChannelQueue
from bot.service.turns.tokens import EstimatingCounter, TokenBook
from bot.storage.characters import SqlCharacters
from bot.storage.db import create_engine, create_sessions
from bot.storage.personas import SqlPersonas
from bot.storage.profiles import SqlProfiles
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
    store: SqlStore
    client: ScriptedClient
    clock: FakeClock

    def rewired(self, *, default: Connection | None, queue_size: int = 3) -> Harness:
        """The same store, endpoint and clock behind a service wired with other settings."""
        service = build_service(
            self.store, self.client, self.clock, default=default, queue_size=queue_size
        )
        return Harness(service, self.store, self.client, self.clock)

    def replier(self) -> RecordingReplier:
        return RecordingReplier(self.clock, limits=LIMITS)

    async def say(
        self,
        text: str,
        *,
        replier: RecordingReplier | None = None,
        author: str = "ann",
        channel: ChannelKey = CHANNEL,
    ) -> TurnOutcome:
        incoming = Incoming(channel, author_id=author, author_name=author.title(), text=text)
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
    store: SqlStore,
    client: ScriptedClient,
    clock: FakeClock,
    *,
    default: Connection | None,
    queue_size: int = 3,
    guard: EndpointGuard | None = None,
) -> ConversationService:
    characters = SqlCharacters(store._sessions, secret_box=None)
    personas = SqlPersonas(store._sessions, secret_box=None)
    prompts = PromptFactory(
        store=store,
        characters=characters,
        personas=personas,
        tokens=TokenBook(EstimatingCounter(), store),
        budget=Budget(page_size=50),
        wall_clock=lambda: WALL_CLOCK,
    )
    return ConversationService(
        store=store,
        profiles=SqlProfiles(store._sessions, secret_box=store._secret_box),
        characters=characters,
        personas=personas,
        fetcher=NoDownloads(),
        client=client,
        pacing=Pacing(clock=clock),
        clock=clock,
        prompts=prompts,
        queue=ChannelQueue(max_waiting=queue_size),
        default_connection=default,
        guard=guard,
    )


class NoDownloads:
    """The service harness has no network: a card link is refused as a real dead link is."""

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        raise UsageError(f"couldn't download the card: nothing answers at {url}")


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
def harness(store: SqlStore, client: ScriptedClient) -> Harness:
    # Auto mode: virtual time jumps only when every task waits; the store's
    # thread hops may let it jump early, which only ever loosens pacing here.
    clock = FakeClock(auto=True)
    return Harness(build_service(store, client, clock, default=OPERATOR), store, client, clock)
