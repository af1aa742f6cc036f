"""The retention task: a pass at start and every interval, counts logged, a database failure
survived, and cancelled at once at shutdown. (Which rows go: tests/storage/.)"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import StorageError
from bot.service.retention import RetentionPass, keep_retaining
from tests.fakes.clock import FakeClock

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
INTERVAL = 3600.0


class ScriptedRetention:
    """The Retention port over a list of batches still to delete; fails while `failing`."""

    def __init__(self, old_messages: int) -> None:
        self.old_messages = old_messages
        self.failing = False
        self.cutoffs: list[datetime] = []
        self.limits: list[int] = []

    async def delete_archived_messages(self, before: datetime, *, limit: int) -> int:
        return 0

    async def delete_archived_chats(self, before: datetime, *, limit: int) -> int:
        return 0

    async def delete_old_messages(self, before: datetime, *, limit: int) -> int:
        if self.failing:
            raise StorageError("The database could not delete old messages (OperationalError).")
        self.cutoffs.append(before)
        self.limits.append(limit)
        done = min(limit, self.old_messages)
        self.old_messages -= done
        return done

    async def delete_old_usage(self, before: datetime, *, limit: int) -> int:
        return 0


async def test_a_pass_deletes_in_batches_until_a_short_one() -> None:
    """Batches of the set size until fewer come back, all with the cutoff `days` ago."""
    retention = ScriptedRetention(old_messages=7)
    rules = RetentionPass(retention, days=30, wall_clock=lambda: NOW, batch_rows=3)

    deleted = await rules.run()

    assert deleted["old messages"] == 7
    assert retention.limits == [3, 3, 3]
    assert set(retention.cutoffs) == {NOW - timedelta(days=30)}


async def test_the_task_logs_counts_survives_a_failure_and_stops_when_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A failing pass is logged and the next interval tries again; the deleted rows are
    logged as counts; cancelling ends the task at once."""
    caplog.set_level(logging.INFO, logger="bot.service.retention")
    clock = FakeClock()
    retention = ScriptedRetention(old_messages=4)
    retention.failing = True
    rules = RetentionPass(retention, days=1, wall_clock=lambda: NOW, batch_rows=10)
    task = asyncio.create_task(keep_retaining(rules, interval_seconds=INTERVAL, clock=clock))

    await clock.settle()
    assert "the pass failed" in caplog.text
    assert retention.old_messages == 4
    retention.failing = False
    await clock.advance(INTERVAL)

    assert retention.old_messages == 0
    assert "retention: deleted 4 old messages" in caplog.text
    assert not task.done()
    task.cancel()
    await clock.settle()
    assert task.cancelled()
