"""Keeping a streaming reply's text in the store as the chat is shown it.

A crash then loses at most text nobody saw. The stream asks before each step of text it
shows; writes are paced to one small UPDATE per reply a second, and never on the token path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Protocol

from bot.core.domain import MessageId
from bot.core.errors import StorageError
from bot.core.ports import Clock, ShownTextKeeper, Store

_log = logging.getLogger(__name__)

KEEP_INTERVAL_SECONDS = 1.0
"""At most one write a second per streaming reply: the platforms' own edit pace in a busy
channel, so it seldom holds a step of text back."""


class KeeperFactory(Protocol):
    """Makes the keeper of one streaming reply; `PartialReplyKeeper` itself is the usual one
    (a benchmark passes one that keeps nothing, to measure what keeping costs)."""

    def __call__(
        self,
        store: Store,
        reply_id: MessageId,
        *,
        clock: Clock,
        source: Callable[[], tuple[str, str]],
    ) -> ShownTextKeeper: ...


class PartialReplyKeeper:
    """A `ShownTextKeeper` that saves the reply's text so far into its pending row.

    `source` gives the reply as it stands (answer, reasoning); for a continuation, only
    what it added. A refused save is logged and delivery goes on: the turn's final write
    is retried on its own, and a chat must not freeze over a checkpoint.
    """

    def __init__(
        self,
        store: Store,
        reply_id: MessageId,
        *,
        clock: Clock,
        source: Callable[[], tuple[str, str]],
        interval_seconds: float = KEEP_INTERVAL_SECONDS,
    ) -> None:
        self._store = store
        self._reply_id = reply_id
        self._clock = clock
        self._source = source
        self._interval = interval_seconds
        self._last_keep: float | None = None
        self.keeps = 0

    def seconds_until_next_keep(self, now: float) -> float:
        if self._last_keep is None:
            return 0.0
        return max(0.0, self._last_keep + self._interval - now)

    def keep(self) -> Coroutine[None, None, None]:
        content, reasoning = self._source()  # now, not when the write gets its turn
        self._last_keep = self._clock.now()
        self.keeps += 1
        return self._save(content, reasoning)

    async def _save(self, content: str, reasoning: str) -> None:
        try:
            await self._store.save_partial(self._reply_id, content=content, reasoning=reasoning)
        except StorageError:
            _log.warning("could not keep a streaming reply's text so far", exc_info=True)
