"""One turn at a time per channel, in arrival order, with a bounded wait and a stop switch.

Channels never wait for each other: each has its own lane. Lanes that fall
idle are dropped so the map does not grow with every channel ever seen. At
shutdown the queue closes: no turn starts any more, and every running one is stopped.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import NamedTuple

from bot.core.domain import ChannelKey
from bot.core.errors import ChannelBusy, ShuttingDown

SHUTTING_DOWN_TEXT = "I'm restarting; send that again in a minute."


@dataclass(eq=False)
class RunningTurn:
    """The turn that holds a lane: who asked, the task that streams its reply, and once the
    reply is being shown, how to stop showing more of it."""

    requester_id: str
    streaming: asyncio.Task[None] | None = None
    stop_requested: bool = False
    stopped_by_shutdown: bool = False
    """Stopped because the bot is shutting down, not by a person: the chat is told so."""
    stop_delivery: Callable[[], bool] | None = None
    """Sends no more than the message being written; False when all of it was delivered."""
    lane: str | None = None
    """The token of the channel's lane this turn holds across processes (turns/shared_lane.py)."""

    @property
    def generating(self) -> bool:
        """Still preparing or generating: what /stop cancels."""
        return self.streaming is None or not self.streaming.done()

    @property
    def writing(self) -> bool:
        """Generating, or delivering the reply: something /stop can stop."""
        return self.generating or self.stop_delivery is not None

    def stop(self) -> bool:
        """Stop this turn as /stop does (ChannelQueue.stop says how); False when its reply
        is done already."""
        if self.generating:
            self.stop_requested = True
            if self.streaming is not None:
                self.streaming.cancel()
            return True
        return self.stop_delivery is not None and self.stop_delivery()


class QueueLoad(NamedTuple):
    """How many turns hold a channel's lane now, and how many wait behind them."""

    running: int
    waiting: int


@dataclass(eq=False)
class _Lane:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holding or waiting
    running: RunningTurn | None = None


class ChannelQueue:
    """FIFO per channel: `asyncio.Lock` wakes waiters in the order they arrived."""

    def __init__(self, *, max_waiting: int) -> None:
        self._max_waiting = max_waiting
        self._lanes: dict[ChannelKey, _Lane] = {}
        self._closed = False
        self._emptied = asyncio.Event()  # set whenever the last lane is dropped

    @asynccontextmanager
    async def turn(self, channel: ChannelKey, *, requester_id: str) -> AsyncIterator[RunningTurn]:
        """Wait for the channel's lane; raises ChannelBusy when too many turns already wait,
        and ShuttingDown once the queue is closed, also to a turn that was waiting."""
        if self._closed:
            raise ShuttingDown(SHUTTING_DOWN_TEXT)
        lane = self._lanes.setdefault(channel, _Lane())
        waiting = lane.users - (1 if lane.lock.locked() else 0)
        if lane.lock.locked() and waiting >= self._max_waiting:
            raise ChannelBusy(
                "I'm still answering earlier messages in this channel; try again in a moment."
            )
        lane.users += 1
        try:
            async with lane.lock:
                if self._closed:
                    raise ShuttingDown(SHUTTING_DOWN_TEXT)
                running = RunningTurn(requester_id=requester_id)
                lane.running = running
                try:
                    yield running
                finally:
                    lane.running = None
        finally:
            lane.users -= 1
            if lane.users == 0:
                self._lanes.pop(channel, None)
                if not self._lanes:
                    self._emptied.set()

    def load(self) -> QueueLoad:
        """Turns running and waiting, over every channel: cheap enough for a metrics scrape."""
        running = sum(1 for lane in self._lanes.values() if lane.running is not None)
        users = sum(lane.users for lane in self._lanes.values())
        return QueueLoad(running=running, waiting=users - running)

    @property
    def closed(self) -> bool:
        """Whether the queue refuses turns: the bot is shutting down."""
        return self._closed

    def close(self) -> int:
        """Refuse every turn from now on and stop each running one as /stop does (its text
        so far kept, stored as stopped); turns waiting for a lane are refused as they get
        it. Returns how many turns were stopped."""
        self._closed = True
        for lane in self._lanes.values():
            if lane.running is not None:
                lane.running.stopped_by_shutdown = True
        return sum(self.stop(channel) for channel in list(self._lanes))

    async def drained(self) -> None:
        """Until no turn holds or waits for a lane."""
        while self._lanes:
            self._emptied.clear()
            await self._emptied.wait()

    def running(self, channel: ChannelKey) -> RunningTurn | None:
        lane = self._lanes.get(channel)
        return lane.running if lane else None

    def stop(self, channel: ChannelKey) -> bool:
        """Stop the turn holding the channel; False when none does or its reply is done.

        A turn still preparing (loading, sending its placeholder) is stopped as soon
        as its generation starts; a generating one is cancelled, and what it wrote is
        delivered. A reply whose generation is over but whose messages still wait for
        the channel's budget stops being delivered, so the channel is free at once.
        """
        running = self.running(channel)
        return running is not None and running.stop()
