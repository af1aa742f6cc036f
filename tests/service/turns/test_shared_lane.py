"""One turn at a time per channel across processes (Telegram by webhook): two services
(two workers' wiring, each with its own channel queue) on one database. A turn in a channel
whose lane another worker holds waits, typing, until that turn ends; a dead worker's lane
frees when its lifetime runs out; other channels never wait."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import Stores
from bot.core.domain import ChannelKey, Incoming, MessageStatus, TurnOutcome
from bot.service.conversations import ConversationService
from bot.service.turns.shared_lane import LANE_KIND, LANE_SECONDS, lane_key
from bot.storage.shared_state import SqlSharedState
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import ScriptedClient, reply
from tests.fakes.recording_replier import RecordingReplier
from tests.service.conftest import CHANNEL, LIMITS, OPERATOR, build_service
from tests.service.turns.test_remote_stop import FedClient

DEADLINE_SECONDS = 10.0
OTHER_CHANNEL = ChannelKey("test", "random")


def worker(
    stores: Stores[SqlStore], client: ScriptedClient, clock: FakeClock
) -> ConversationService:
    return build_service(stores, client, clock, default=OPERATOR, shared_lanes=True)


def ask(
    service: ConversationService, clock: FakeClock, text: str, channel: ChannelKey = CHANNEL
) -> tuple[asyncio.Task[TurnOutcome], RecordingReplier]:
    replier = RecordingReplier(clock, limits=LIMITS)
    incoming = Incoming(channel, author_id="ann", author_name="Ann", text=text)
    return asyncio.create_task(service.handle(incoming, replier)), replier


async def let_pass(seconds: float, clock: FakeClock) -> None:
    """Virtual time passes a tenth of a second at a time, real I/O (the database) let run."""
    for _ in range(round(seconds * 10)):
        await clock.advance(0.1)
        await asyncio.sleep(0.01)


async def ended(turn: asyncio.Task[TurnOutcome], clock: FakeClock) -> TurnOutcome:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not turn.done():
        assert time.monotonic() < deadline, "the turn did not end"
        await clock.advance(0.1)
        await asyncio.sleep(0.01)
    return turn.result()


async def reached(event: asyncio.Event, clock: FakeClock) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not event.is_set():
        assert time.monotonic() < deadline, "not reached in time"
        await clock.advance(0.1)
        await asyncio.sleep(0.01)


async def test_a_turn_waits_for_the_channels_turn_on_another_worker(
    stores: Stores[SqlStore],
) -> None:
    """Worker A is writing "Once " when the same chat's next message reaches worker B: B
    asks its model nothing and shows typing until A's reply is complete, then answers."""
    clock = FakeClock()
    first = reply("Once ", "upon")
    first.hold_after = 1
    a_client, b_client = ScriptedClient([first]), ScriptedClient([reply("Next!")])
    a_turn, _ = ask(worker(stores, a_client, clock), clock, "story")
    await reached(first.reached_hold, clock)

    b_turn, b_replier = ask(worker(stores, b_client, clock), clock, "and then?")
    await let_pass(3.0, clock)

    assert not b_turn.done()
    assert b_client.requests == [], "B's model was not asked while A's reply was written"
    assert b_replier.texts == []
    assert [end for _, end in b_replier.typing_windows] == [None], "B shows typing meanwhile"

    first.release.set()
    a_outcome = await ended(a_turn, clock)
    b_outcome = await ended(b_turn, clock)

    assert (a_outcome.status, a_outcome.content) == (MessageStatus.COMPLETE, "Once upon")
    assert (b_outcome.status, b_outcome.content) == (MessageStatus.COMPLETE, "Next!")
    assert len(b_client.requests) == 1
    prompt = [m.content for m in b_client.requests[0].messages]
    assert "Once upon" in prompt, "B's turn saw A's finished reply in the history"
    assert stores.shared_state is not None
    assert await stores.shared_state.get(LANE_KIND, lane_key(CHANNEL)) is None, "lane freed"


async def test_a_dead_workers_lane_frees_after_its_lifetime(
    stores: Stores[SqlStore], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A worker that died holding the channel's lane never frees it: the next turn waits
    until the lane's lifetime has passed, then answers."""
    wall = [datetime(2026, 1, 1, tzinfo=UTC)]
    shared = SqlSharedState(sessions, now=lambda: wall[0])
    stores = dataclasses.replace(stores, shared_state=shared)
    await shared.put(LANE_KIND, lane_key(CHANNEL), "dead-worker", ttl=LANE_SECONDS)
    clock = FakeClock()
    client = ScriptedClient([reply("Hello again.")])
    turn, _ = ask(worker(stores, client, clock), clock, "anyone?")
    await let_pass(2.0, clock)
    assert not turn.done()
    assert client.requests == []

    wall[0] += timedelta(seconds=LANE_SECONDS + 1)
    outcome = await ended(turn, clock)

    assert (outcome.status, outcome.content) == (MessageStatus.COMPLETE, "Hello again.")


async def test_a_long_reply_keeps_its_lane_past_the_lifetime(
    stores: Stores[SqlStore], sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A reply still streaming after the lane's first lifetime keeps it (its checkpoint
    renews it): the chat's next turn elsewhere still waits, then answers after it."""
    wall = [datetime(2026, 1, 1, tzinfo=UTC)]
    stores = dataclasses.replace(stores, shared_state=SqlSharedState(sessions, now=lambda: wall[0]))
    clock = FakeClock()
    a_client = FedClient()
    a_client.fed.put_nowait("Once ")
    a_turn, a_replier = ask(worker(stores, a_client, clock), clock, "story")
    await until_shown(a_replier, "Once", clock)
    wall[0] += timedelta(seconds=LANE_SECONDS - 10)
    await let_pass(11.0, clock)  # the checkpoint's next renewal is due
    a_client.fed.put_nowait("upon ")
    await until_shown(a_replier, "Once upon", clock)
    wall[0] += timedelta(seconds=15)  # past the first lifetime, within the renewed one

    b_client = ScriptedClient([reply("Next!")])
    b_turn, _ = ask(worker(stores, b_client, clock), clock, "and then?")
    await let_pass(2.0, clock)
    assert not b_turn.done()
    assert b_client.requests == []

    a_client.fed.put_nowait(None)
    assert (await ended(a_turn, clock)).content == "Once upon "
    assert (await ended(b_turn, clock)).content == "Next!"


async def until_shown(replier: RecordingReplier, text: str, clock: FakeClock) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not any(shown.strip() == text for shown in replier.messages.values()):
        assert time.monotonic() < deadline, f"{text!r} not shown in time"
        await clock.advance(0.1)
        await asyncio.sleep(0.01)


async def test_other_channels_never_wait(stores: Stores[SqlStore]) -> None:
    """While worker A writes in one channel, worker B answers another channel at once."""
    clock = FakeClock()
    first = reply("Once ", "upon")
    first.hold_after = 1
    a_turn, _ = ask(worker(stores, ScriptedClient([first]), clock), clock, "story")
    await reached(first.reached_hold, clock)

    b_client = ScriptedClient([reply("Elsewhere.")])
    b_turn, _ = ask(worker(stores, b_client, clock), clock, "hi", OTHER_CHANNEL)
    outcome = await ended(b_turn, clock)

    assert (outcome.status, outcome.content) == (MessageStatus.COMPLETE, "Elsewhere.")
    assert not a_turn.done()
    first.release.set()
    assert (await ended(a_turn, clock)).status is MessageStatus.COMPLETE


async def test_a_turn_waiting_for_another_workers_turn_is_refused_at_shutdown(
    stores: Stores[SqlStore],
) -> None:
    """The worker whose turn waits for the other worker's is told to shut down: the turn
    stops waiting, its chat is told the bot is restarting, and its model is never asked."""
    clock = FakeClock()
    first = reply("Once ", "upon")
    first.hold_after = 1
    a_turn, _ = ask(worker(stores, ScriptedClient([first]), clock), clock, "story")
    await reached(first.reached_hold, clock)
    b_client = ScriptedClient([reply("Next!")])
    b_service = worker(stores, b_client, clock)
    b_turn, b_replier = ask(b_service, clock, "and then?")
    await let_pass(1.0, clock)

    shutting = asyncio.create_task(b_service.shut_down(within=DEADLINE_SECONDS))
    outcome = await ended(b_turn, clock)

    assert outcome.status is MessageStatus.ERROR
    assert b_replier.texts == ["I'm restarting; send that again in a minute."]
    assert b_client.requests == []
    assert await shutting == 0
    first.release.set()
    assert (await ended(a_turn, clock)).status is MessageStatus.COMPLETE
