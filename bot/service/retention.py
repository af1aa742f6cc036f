"""Retention: deleting what is older than the operator keeps (RETENTION_DAYS), in the
background, a small batch per transaction.

`RetentionPass` is one pass over the database at a given wall-clock time; `keep_retaining`
runs one at start and then every interval until it is cancelled (at shutdown). Knows the
`Retention` port only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.core.errors import StorageError
from bot.core.ports import Clock, Retention

_log = logging.getLogger(__name__)

DEFAULT_BATCH_ROWS = 500
DEFAULT_INTERVAL_SECONDS = 3600.0

Step = Callable[[datetime], Awaitable[int]]


class RetentionPass:
    """Deletes, oldest first and a batch at a time: archived chats archived over `days` ago
    (their messages first), messages over `days` old in current chats (never a pending
    reply), and usage rows over `days` old."""

    def __init__(
        self,
        retention: Retention,
        *,
        days: int,
        wall_clock: Callable[[], datetime],
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        if days <= 0 or batch_rows <= 0:
            raise ValueError("retention needs a positive number of days and of rows per batch")
        self._retention = retention
        self._age = timedelta(days=days)
        self._wall_clock = wall_clock
        self._batch_rows = batch_rows

    async def run(self) -> dict[str, int]:
        """One pass: how many rows of each kind it deleted. StorageError stops it part-way;
        what was deleted stays deleted, and the next pass goes on from there."""
        before = self._wall_clock() - self._age
        retention, limit = self._retention, self._batch_rows
        steps: dict[str, Callable[..., Awaitable[int]]] = {
            "messages of archived chats": retention.delete_archived_messages,
            "archived chats": retention.delete_archived_chats,
            "old messages": retention.delete_old_messages,
            "usage rows": retention.delete_old_usage,
        }
        deleted: dict[str, int] = {}
        for kind, step in steps.items():
            total = 0
            while True:
                done = await step(before, limit=limit)
                total += done
                if done < limit:
                    break
                await asyncio.sleep(0)  # between batches, other writers go first
            deleted[kind] = total
        return deleted


async def keep_retaining(
    retention: RetentionPass, *, interval_seconds: float, clock: Clock
) -> None:
    """A pass now and then every `interval_seconds`, until cancelled. What a pass deleted is
    logged (counts only); a database failure is logged and the next interval tries again."""
    while True:
        try:
            deleted = await retention.run()
        except StorageError as exc:
            _log.warning(
                "retention: the pass failed; trying again in %.0f s (%s)", interval_seconds, exc
            )
        else:
            if any(deleted.values()):
                said = ", ".join(f"{count} {kind}" for kind, count in deleted.items() if count)
                _log.info("retention: deleted %s", said)
            else:
                _log.debug("retention: nothing old enough to delete")
        await clock.sleep(interval_seconds)
