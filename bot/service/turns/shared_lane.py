"""One turn at a time per channel across processes: what `ChannelQueue` does within one.

Why: a Telegram chat's updates may reach different webhook workers, so two messages sent
at once would otherwise be answered side by side. Only there can it matter, so the wiring
(`bot.app`) turns this on only when the service has a shared state AND Telegram is served
by webhook: a single process must not pay a database round trip per turn for it.

The smallest moving part, as for /stop across processes (turns/remote_stop.py): one
shared-state entry per channel, "lane", holding a token of the turn that holds it.

- A turn, once it holds its local lane, claims the entry (lifetime `LANE_SECONDS`). A turn
  that cannot claim waits, asking again after 100 ms, doubling up to 500 ms, on the pacing
  Clock; the typing signal already shows meanwhile, as for a turn queued locally.
- While the reply streams, the turn's existing checkpoint (remote_stop.WatchedKeeper, every
  `WRITING_REFRESH_SECONDS`) keeps the entry alive: `refresh`.
- When the turn ends it deletes the entry, only if still its own.

A worker that dies frees its lane when the lifetime runs out. Not covered: a turn with no
checkpoint for longer than `LANE_SECONDS` (preparing, or its model silent before or amid
its reply) may lose its lane to a waiting turn elsewhere, which then runs beside it, as
before this existed; the local queue's limits (`max_waiting`, "busy") stay per process. A
database that refuses is logged and the turn runs without the shared lane: answering side
by side is better than not answering.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.core.domain import ChannelKey
from bot.core.errors import ShuttingDown, StorageError
from bot.core.ports import Clock
from bot.core.shared_state import SharedState
from bot.service.turns.queue import SHUTTING_DOWN_TEXT, RunningTurn

_log = logging.getLogger(__name__)

LANE_KIND = "lane"
LANE_SECONDS = 30.0
"""How long a lane outlives its holder's last refresh: a dead worker's lane frees after this."""
FIRST_WAIT_SECONDS = 0.1
LONGEST_WAIT_SECONDS = 0.5


def lane_key(channel: ChannelKey) -> str:
    return f"{channel.platform}:{channel.external_id}"


class SharedLanes:
    """The channel's lane in the shared state, held by one turn of any process at a time."""

    def __init__(self, state: SharedState, clock: Clock) -> None:
        self._state = state
        self._clock = clock

    @asynccontextmanager
    async def hold(self, channel: ChannelKey, run: RunningTurn) -> AsyncIterator[None]:
        """Wait until this turn holds the channel's shared lane; raises ShuttingDown when
        the bot stops while it waits. `run.lane` names it for `refresh`."""
        key = lane_key(channel)
        token = uuid.uuid4().hex
        if not await self._claim(key, token, run):
            yield
            return
        run.lane = token
        try:
            yield
        finally:
            run.lane = None
            await asyncio.shield(self._release(key, token))

    async def _claim(self, key: str, token: str, run: RunningTurn) -> bool:
        """Claimed: True; the database refused: False (logged, the turn goes on)."""
        wait = FIRST_WAIT_SECONDS
        while True:
            try:
                if await self._state.claim(LANE_KIND, key, ttl=LANE_SECONDS, value=token):
                    return True
            except StorageError:
                _log.warning("could not take the channel's lane; answering anyway", exc_info=True)
                return False
            if run.stopped_by_shutdown:
                raise ShuttingDown(SHUTTING_DOWN_TEXT)
            await self._clock.sleep(wait)
            wait = min(wait * 2, LONGEST_WAIT_SECONDS)

    async def _release(self, key: str, token: str) -> None:
        try:
            if await self._state.get(LANE_KIND, key) == token:
                await self._state.delete(LANE_KIND, key)
        except StorageError:
            _log.warning("could not free the channel's lane; it frees itself", exc_info=True)


async def refresh(state: SharedState, channel: ChannelKey, run: RunningTurn) -> None:
    """Keep the lane `run` holds alive for another `LANE_SECONDS` (the turn's checkpoint
    calls this). Taken back if it lapsed and is free; left alone if another turn holds it."""
    if run.lane is None:
        return
    key = lane_key(channel)
    held = await state.get(LANE_KIND, key)
    if held == run.lane:
        await state.put(LANE_KIND, key, run.lane, ttl=LANE_SECONDS)
    elif held is None:
        await state.claim(LANE_KIND, key, ttl=LANE_SECONDS, value=run.lane)
