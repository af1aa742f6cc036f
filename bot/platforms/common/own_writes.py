"""The writes a replier makes itself, after or between a stream's: a draft settled into a
message, the buttons a finished reply gets. They carry the reply's final state, so they
are paced like the stream's and retried, a bounded number of times."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.core.errors import DeliveryError
from bot.core.ports import Clock
from bot.reply.pacing import ChannelBudget

_log = logging.getLogger(__name__)

MAX_OWN_WRITE_ATTEMPTS = 5
"""Tries at one such write before its DeliveryError is raised."""


async def write_persistently(
    write: Callable[[], Awaitable[None]],
    *,
    budget: ChannelBudget,
    clock: Clock,
    attempts: int = MAX_OWN_WRITE_ATTEMPTS,
) -> None:
    """`write`, paced by the channel's budget, retried after a platform's pause (which
    pauses the channel) or a failure; raises the last DeliveryError."""
    failures = 0
    while True:
        await budget.spend(clock)
        try:
            await write()
        except DeliveryError as exc:
            failures += 1
            if failures >= attempts:
                raise
            if exc.retry_after is not None:
                budget.pause_until(clock.now() + exc.retry_after)
            _log.warning("retrying a reply's own write (%s)", exc)
        else:
            return
