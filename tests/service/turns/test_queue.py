"""One turn at a time per channel, in order, with a bounded wait."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.domain import ChannelKey
from bot.core.errors import ChannelBusy
from bot.service.turns.queue import ChannelQueue

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
