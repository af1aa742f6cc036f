"""/stop on one process stops the reply another is writing: two services (two processes'
wiring, each with its own channel queue) on one database; the writing one notices the stop
at its next once-a-second checkpoint and ends the reply as a local /stop does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from bot.app import Stores
from bot.core.domain import (
    Actor,
    CommandCall,
    CompletionRequest,
    Delta,
    Incoming,
    MessageStatus,
    Permission,
    TurnOutcome,
)
from bot.service.conversations import ConversationService
from bot.service.turns.remote_stop import RemoteStops
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import ScriptedClient
from tests.fakes.recording_replier import RecordingReplier
from tests.service.conftest import CHANNEL, LIMITS, OPERATOR, build_service

DEADLINE_SECONDS = 10.0


class FedClient(ScriptedClient):
    """Streams what the test feeds it, when it feeds it (None ends the reply): a model that
    keeps writing while the test acts, as a real one does."""

    def __init__(self) -> None:
        super().__init__()
        self.fed: asyncio.Queue[str | None] = asyncio.Queue()
        self.closed = asyncio.Event()

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        self.requests.append(request)
        try:
            while (text := await self.fed.get()) is not None:
                yield Delta(content=text)
        finally:
            self.closed.set()


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll `condition` (it reads the database) until true, failing after a deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, "not reached in time"
        await asyncio.sleep(0.01)


async def ended(turn: asyncio.Task[TurnOutcome], clock: FakeClock) -> TurnOutcome:
    """The turn's outcome, virtual time let pass a tenth of a second at a time meanwhile
    (the checkpoint's reads are real I/O, so the turn is polled for, with a deadline)."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not turn.done():
        assert time.monotonic() < deadline, "the turn did not end"
        await clock.advance(0.1)
        await asyncio.sleep(0.01)
    return turn.result()


async def stop(service: ConversationService, user: str, permission: Permission) -> str:
    actor = Actor(user, user.title(), permission)
    return (await service.run_command(CommandCall("stop", {}, CHANNEL, actor))).text


async def test_a_stop_on_another_process_stops_the_reply(stores: Stores[SqlStore]) -> None:
    """Worker A shows "Once "; on worker B, where nothing runs, a stranger's /stop is
    refused and the asker's is taken. At A's next checkpoint (within a virtual second, as
    "upon" comes) the reply stops: shown with the stopped note, stored as stopped."""
    clock = FakeClock()
    client = FedClient()
    writing = build_service(stores, client, clock, default=OPERATOR, shared_lanes=True)
    other = build_service(stores, client, clock, default=OPERATOR, shared_lanes=True)
    assert stores.shared_state is not None
    stops = RemoteStops(stores.shared_state)
    client.fed.put_nowait("Once ")
    replier = RecordingReplier(clock, limits=LIMITS)
    incoming = Incoming(CHANNEL, author_id="ann", author_name="Ann", text="story")
    turn = asyncio.create_task(writing.handle(incoming, replier))

    async def announced() -> bool:
        return await stops.writer(CHANNEL) is not None

    await until(announced)
    assert await stop(other, "bob", Permission.EVERYONE) == (
        "Only the person who asked, or a channel admin, can stop it."
    )
    assert await stop(other, "ann", Permission.EVERYONE) == "Stopped."
    assert not turn.done()
    client.fed.put_nowait("upon")

    outcome = await ended(turn, clock)

    assert outcome.status is MessageStatus.STOPPED
    assert outcome.content == "Once upon"
    assert client.closed.is_set(), "the model's stream was closed"
    assert list(replier.messages.values())[-1] == "Once upon\n\n*(stopped)*"
    state = await stores.store.load_channel(CHANNEL)
    rows = await stores.store.history(state.chat_id, limit=10)
    assert [(m.role.value, m.status.value, m.content) for m in rows][-1] == (
        "assistant",
        "stopped",
        "Once upon",
    )
    assert await stops.writer(CHANNEL) is None, "the ended turn no longer says it is writing"
    assert await stop(other, "ann", Permission.EVERYONE) == (
        "Nothing is being written here right now."
    )


async def test_an_admins_stop_elsewhere_is_taken(stores: Stores[SqlStore]) -> None:
    """A channel admin on the other worker may stop someone else's reply, as locally."""
    clock = FakeClock()
    client = FedClient()
    writing = build_service(stores, client, clock, default=OPERATOR, shared_lanes=True)
    other = build_service(stores, client, clock, default=OPERATOR, shared_lanes=True)
    assert stores.shared_state is not None
    stops = RemoteStops(stores.shared_state)
    client.fed.put_nowait("Once ")
    incoming = Incoming(CHANNEL, author_id="ann", author_name="Ann", text="story")
    turn = asyncio.create_task(writing.handle(incoming, RecordingReplier(clock, limits=LIMITS)))

    async def announced() -> bool:
        return await stops.writer(CHANNEL) is not None

    await until(announced)
    assert await stop(other, "bob", Permission.CHANNEL_ADMIN) == "Stopped."
    client.fed.put_nowait("upon")
    assert (await ended(turn, clock)).status is MessageStatus.STOPPED
