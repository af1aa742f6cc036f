"""/stop across processes: a Stop that reaches a worker where nothing is being written in
the channel still stops the reply another worker is writing there.

The smallest moving part: no messages between processes, only two shared-state entries per
channel, read and written at the streaming turn's existing checkpoint (the partial-text
keeper's once-a-second save).

- The worker writing a reply says so: "writing" holds who asked and a token of this turn,
  put at its first checkpoint and again every `WRITING_REFRESH_SECONDS`, with a lifetime of
  `WRITING_SECONDS`, and removed when the turn ends.
- A worker where /stop finds nothing running reads that entry, checks who may stop as for a
  local turn (who asked, or a channel admin), and records "stop" with the turn's token.
- At each checkpoint the writing worker looks for a "stop" naming its turn and stops the
  turn as /stop does (the text shown so far kept, stored as stopped, with the stopped note).

Latency: the next checkpoint, so about a second (`KEEP_INTERVAL_SECONDS`) while text streams.
Not reached: a turn still preparing (before its first text is shown; /stop elsewhere says
nothing is being written), and a reply whose model goes silent for long. A worker that dies
mid-reply leaves "writing" for at most `WRITING_SECONDS`: a /stop then says "Stopped." to
no effect.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Coroutine
from dataclasses import dataclass

from bot.core.domain import ChannelKey
from bot.core.errors import StorageError
from bot.core.ports import Clock, ShownTextKeeper
from bot.core.shared_state import SharedState
from bot.service.turns.queue import RunningTurn
from bot.service.turns.shared_lane import refresh as refresh_lane

_log = logging.getLogger(__name__)

WRITING_KIND = "writing"
STOP_KIND = "stop"
WRITING_SECONDS = 30.0
"""How long "writing" outlives its last refresh: long enough for a pause of the model."""
WRITING_REFRESH_SECONDS = 10.0
STOP_SECONDS = 30.0
"""A stop names one turn, so it may wait this long for the turn's next checkpoint harmlessly."""


def _key(channel: ChannelKey) -> str:
    return f"{channel.platform}:{channel.external_id}"


@dataclass(frozen=True, slots=True)
class Writer:
    """A turn being written by some worker: who asked it, and its token."""

    requester_id: str
    turn: str


class RemoteStops:
    """Both sides: `watch` for the worker writing a reply, `writer`/`ask` for /stop elsewhere."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def writer(self, channel: ChannelKey) -> Writer | None:
        """The turn some worker is writing in the channel, or None."""
        value = await self._state.get(WRITING_KIND, _key(channel))
        if value is None:
            return None
        data = json.loads(value)
        return Writer(str(data["requester"]), str(data["turn"]))

    async def ask(self, channel: ChannelKey, writer: Writer) -> None:
        """Have the worker writing `writer`'s turn stop it at its next checkpoint."""
        await self._state.put(STOP_KIND, _key(channel), writer.turn, ttl=STOP_SECONDS)

    def watch(
        self, channel: ChannelKey, run: RunningTurn, keeper: ShownTextKeeper, clock: Clock
    ) -> WatchedKeeper:
        """`keeper`, also announcing this turn and hearing stops for it at each keep."""
        return WatchedKeeper(self._state, channel, run, keeper, clock)


class WatchedKeeper:
    """A ShownTextKeeper that, after each save, keeps "writing" fresh and looks for a stop.
    A database that refuses is logged and the reply goes on, as for the save itself."""

    def __init__(
        self,
        state: SharedState,
        channel: ChannelKey,
        run: RunningTurn,
        keeper: ShownTextKeeper,
        clock: Clock,
    ) -> None:
        self._state = state
        self._key = _key(channel)
        self._channel = channel
        self._run = run
        self._keeper = keeper
        self._clock = clock
        self._turn = uuid.uuid4().hex
        self._announced_at: float | None = None

    def seconds_until_next_keep(self, now: float) -> float:
        return self._keeper.seconds_until_next_keep(now)

    def keep(self) -> Coroutine[None, None, None]:
        saving = self._keeper.keep()  # called now: the keeper reads the text at this moment
        return self._keep(saving)

    async def _keep(self, saving: Awaitable[None]) -> None:
        await saving
        try:
            await self._checkpoint()
        except StorageError:
            _log.warning("could not look for a stop from another process", exc_info=True)

    async def _checkpoint(self) -> None:
        now = self._clock.now()
        if self._announced_at is None or now - self._announced_at >= WRITING_REFRESH_SECONDS:
            value = json.dumps({"requester": self._run.requester_id, "turn": self._turn})
            await self._state.put(WRITING_KIND, self._key, value, ttl=WRITING_SECONDS)
            await refresh_lane(self._state, self._channel, self._run)
            self._announced_at = now
        if await self._state.get(STOP_KIND, self._key) == self._turn:
            await self._state.delete(STOP_KIND, self._key)
            _log.debug("stopping a reply at another process's /stop")
            self._run.stop()

    async def close(self) -> None:
        """The turn is over: no longer "writing" (unless another turn took the entry since)."""
        if self._announced_at is None:
            return
        try:
            value = await self._state.get(WRITING_KIND, self._key)
            if value is not None and json.loads(value).get("turn") == self._turn:
                await self._state.delete(WRITING_KIND, self._key)
        except StorageError:
            _log.warning("could not say a reply is over to other processes", exc_info=True)
