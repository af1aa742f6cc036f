"""One turn at a time per channel, in order, with a bounded wait."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.domain import ChannelKey
from bot.core.errors import ChannelBusy, ShuttingDown
from bot.service.turns.queue import ChannelQueue, QueueLoad

A = ChannelKey("test", "a")
B = ChannelKey("test", "b")


async def test_turns_in_a_channel_run_in_arrival_order() -> None:
    """Waiting turns get the lane in the order they asked for it."""
    queue = ChannelQueue(max_waiting=5)
    order: list[int] = []
    gate = asyncio.Event()
    holding = asyncio.Event()

    async def turn(n: int) -> None:
        async with queue.turn(A, requester_id=str(n)):
            if n == 0:
                holding.set()
                await gate.wait()
            order.append(n)

    tasks = [asyncio.create_task(turn(n)) for n in range(4)]
    await holding.wait()  # tasks start in creation order, so all four are in line now
    gate.set()
    await asyncio.gather(*tasks)
    assert order == [0, 1, 2, 3]


async def test_full_queue_answers_busy() -> None:
    """Past `max_waiting` waiting turns, a new one is refused at once."""
    queue = ChannelQueue(max_waiting=1)
    gate = asyncio.Event()
    holding = asyncio.Event()

    async def hold() -> None:
        async with queue.turn(A, requester_id="1"):
            holding.set()
            await gate.wait()

    async def wait_in_line() -> None:
        async with queue.turn(A, requester_id="2"):
            pass

    first = asyncio.create_task(hold())
    second = asyncio.create_task(wait_in_line())
    await holding.wait()  # both tasks have run their first step: one holds, one waits
    with pytest.raises(ChannelBusy):
        async with queue.turn(A, requester_id="3"):
            pass
    gate.set()
    await asyncio.gather(first, second)


async def test_other_channels_never_wait() -> None:
    """A busy channel does not hold up another one."""
    queue = ChannelQueue(max_waiting=1)
    gate = asyncio.Event()
    holding = asyncio.Event()

    async def hold() -> None:
        async with queue.turn(A, requester_id="1"):
            holding.set()
            await gate.wait()

    task = asyncio.create_task(hold())
    await holding.wait()
    async with queue.turn(B, requester_id="2") as running:
        assert running.requester_id == "2"
    gate.set()
    await task


async def test_stop_cancels_only_the_generation() -> None:
    """/stop cancels the running generation task and marks the stop as requested."""
    queue = ChannelQueue(max_waiting=1)
    async with queue.turn(A, requester_id="1") as running:
        running.streaming = asyncio.create_task(asyncio.Event().wait())
        assert queue.stop(A) is True
        with pytest.raises(asyncio.CancelledError):
            await running.streaming
        assert running.stop_requested is True
    assert queue.stop(A) is False


async def test_idle_lanes_are_forgotten() -> None:
    """A channel that has finished leaves no lane behind."""
    queue = ChannelQueue(max_waiting=1)
    async with queue.turn(A, requester_id="1"):
        assert queue.running(A) is not None
    assert queue.running(A) is None
    assert queue._lanes == {}


async def test_load_counts_running_and_waiting_turns() -> None:
    """`load` says how many turns hold a lane and how many wait, over every channel."""
    queue = ChannelQueue(max_waiting=3)
    assert queue.load() == QueueLoad(running=0, waiting=0)
    gate = asyncio.Event()
    holding = asyncio.Event()

    async def hold(channel: ChannelKey, n: int) -> None:
        async with queue.turn(channel, requester_id=str(n)):
            holding.set()
            await gate.wait()

    first = asyncio.create_task(hold(A, 1))
    await holding.wait()
    waiting = [asyncio.create_task(hold(A, n)) for n in (2, 3)]
    other = asyncio.create_task(hold(B, 4))
    await asyncio.sleep(0)  # the three new tasks take their first step: queued or holding
    assert queue.load() == QueueLoad(running=2, waiting=2)
    gate.set()
    await asyncio.gather(first, *waiting, other)
    assert queue.load() == QueueLoad(running=0, waiting=0)


async def test_a_closed_queue_refuses_new_turns() -> None:
    """After `close` a turn is refused at once, with a line saying to send it again."""
    queue = ChannelQueue(max_waiting=1)
    assert queue.close() == 0
    with pytest.raises(ShuttingDown, match="send that again"):
        async with queue.turn(A, requester_id="1"):
            pass
    assert queue.load() == QueueLoad(running=0, waiting=0)


async def test_close_stops_the_running_turn_and_refuses_the_waiting_one() -> None:
    """`close` stops a generating turn as /stop does; a turn waiting behind it never starts."""
    queue = ChannelQueue(max_waiting=2)
    holding = asyncio.Event()
    outcomes: list[str] = []

    async def generate() -> None:
        async with queue.turn(A, requester_id="1") as running:
            running.streaming = asyncio.create_task(asyncio.Event().wait())
            holding.set()
            try:
                await running.streaming
            except asyncio.CancelledError:
                outcomes.append(f"stopped={running.stop_requested}")

    async def wait_in_line() -> None:
        try:
            async with queue.turn(A, requester_id="2"):
                outcomes.append("started")
        except ShuttingDown:
            outcomes.append("refused")

    first = asyncio.create_task(generate())
    await holding.wait()
    second = asyncio.create_task(wait_in_line())
    await asyncio.sleep(0)  # the second turn is in line
    assert queue.close() == 1
    await asyncio.wait_for(queue.drained(), timeout=5)
    await asyncio.gather(first, second)
    assert outcomes == ["stopped=True", "refused"]


async def test_drained_returns_at_once_when_nothing_runs() -> None:
    """With no lane in use, waiting for the queue to drain does not wait."""
    queue = ChannelQueue(max_waiting=1)
    await asyncio.wait_for(queue.drained(), timeout=5)
