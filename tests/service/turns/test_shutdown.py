"""Shutting the service down: running replies end as /stop ends them, no new turn starts,
and the wait for them is bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bot.core.domain import Connection, Delta, MessageStatus, TokenCounts
from bot.service.turns.queue import QueueLoad
from bot.service.turns.tokens import EstimatingCounter
from tests.fakes.openai.scripted_client import Script, reply
from tests.service.conftest import CHANNEL, OPERATOR, Harness, build_service

RESTARTING = "I'm restarting; send that again in a minute."


async def stored(harness: Harness) -> list[tuple[str, str, str]]:
    state = await harness.store.load_channel(CHANNEL)
    rows = await harness.store.history(state.chat_id, limit=100)
    return [(m.role.value, m.status.value, m.content) for m in rows]


async def test_shut_down_stops_a_streaming_reply_as_stop_does(harness: Harness) -> None:
    """The reply being written ends stored as stopped, shown with the text so far and the
    stopped note, and the wait returns once it has ended."""
    script = Script(deltas=[Delta(content="Once "), Delta(content="upon")], hold_after=2)
    harness.client.scripts.append(script)
    replier = harness.replier()
    turn = asyncio.create_task(harness.say("story", replier=replier))
    await script.reached_hold.wait()
    assert harness.service.load() == QueueLoad(running=1, waiting=0)
    assert not harness.service.shutting_down

    assert await harness.service.shut_down(within=5.0) == 0
    assert harness.service.shutting_down

    assert turn.done()
    outcome = turn.result()
    assert outcome.status is MessageStatus.STOPPED
    assert script.closed.is_set()
    assert replier.texts[-1] == "Once upon\n\n*(stopped: the bot is restarting)*"
    assert (await stored(harness))[1] == ("assistant", "stopped", "Once upon")


async def test_a_message_after_shut_down_is_told_to_come_back(harness: Harness) -> None:
    """Once shut down, a message starts no turn: it is answered that the bot is restarting,
    and nothing is stored or asked of the endpoint."""
    harness.client.scripts.append(reply("never"))
    await harness.service.shut_down(within=5.0)
    replier = harness.replier()

    outcome = await harness.say("hello?", replier=replier)

    assert outcome.status is MessageStatus.ERROR
    assert replier.texts == [RESTARTING]
    assert harness.client.requests == []
    state = await harness.store.load_channel(CHANNEL)
    assert await harness.store.history(state.chat_id, limit=10) == []


async def test_a_message_waiting_for_its_channel_is_refused(harness: Harness) -> None:
    """A message queued behind the running reply is refused rather than started."""
    script = Script(deltas=[Delta(content="first")], hold_after=1)
    harness.client.scripts += [script, reply("second")]
    turn = asyncio.create_task(harness.say("one"))
    await script.reached_hold.wait()
    waiting_replier = harness.replier()
    waiting = asyncio.create_task(harness.say("two", replier=waiting_replier))
    await harness.clock.settle()
    assert harness.service.load() == QueueLoad(running=1, waiting=1)

    assert await harness.service.shut_down(within=5.0) == 0

    assert (await turn).status is MessageStatus.STOPPED
    assert (await waiting).status is MessageStatus.ERROR
    assert waiting_replier.texts == [RESTARTING]
    assert len(harness.client.requests) == 1


class HeldCounter:
    """Counts tokens only once released: a turn stuck before its generation starts."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.release = asyncio.Event()

    async def count(self, connection: Connection, model: str, texts: Sequence[str]) -> TokenCounts:
        self.asked.set()
        await self.release.wait()
        return await EstimatingCounter().count(connection, model, texts)


async def test_the_wait_is_bounded_and_a_late_turn_still_ends_stopped(harness: Harness) -> None:
    """A turn that cannot end within the wait is counted and left; when it gets going it
    is stopped at once, never streamed."""
    counter = HeldCounter()
    service = build_service(
        harness.stores, harness.client, harness.clock, default=OPERATOR, token_counter=counter
    )
    harness = Harness(service, harness.stores, harness.client, harness.clock)
    script = reply("never", "shown")
    harness.client.scripts.append(script)
    turn = asyncio.create_task(harness.say("one"))
    await counter.asked.wait()

    assert await service.shut_down(within=0.5) == 1

    counter.release.set()
    outcome = await turn
    assert outcome.status is MessageStatus.STOPPED
    assert outcome.content == ""
    assert service.load() == QueueLoad(running=0, waiting=0)
