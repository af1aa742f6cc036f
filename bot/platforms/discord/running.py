"""The handlers running right now, so that a shutdown can wind them down first.

discord.py runs each event and interaction in a task of its own and, on close, shuts
the HTTP session under them. Replies cut off that way would keep their Stop button
and log errors; instead the adapter lets what runs finish (the service has stopped the
replies being written by then), cancels what is still running, and gives it a moment to
settle its messages (Stop removed, the text so far kept) while Discord still answers.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec

P = ParamSpec("P")

SETTLE_SECONDS = 2.0
"""How long closing waits for handlers to end when no shutdown wound them down first."""
CANCELLED_SETTLE_SECONDS = 0.5
"""How long handlers cancelled at shutdown get to settle their replies."""


class RunningHandlers:
    """The tasks of the event and interaction handlers running now, known by a wrapper."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[Any]] = set()

    def tracked(
        self, handler: Callable[P, Awaitable[None]]
    ) -> Callable[P, Coroutine[Any, Any, None]]:
        """`handler`, its task known while it runs."""

        @functools.wraps(handler)
        async def run(*args: P.args, **kwargs: P.kwargs) -> None:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                await handler(*args, **kwargs)
            finally:
                if task is not None:
                    self._running.discard(task)

        return run

    async def wind_down(self, seconds: float = SETTLE_SECONDS) -> int:
        """Wait up to `seconds` for what runs to end by itself (at shutdown the service has
        stopped the replies being written, so handlers end as soon as those are shown
        stopped), then cancel what is left and give it a moment to settle. Returns how
        many were cancelled."""
        running = set(self._running)
        if running:
            _, running = await asyncio.wait(running, timeout=seconds)
        for task in running:
            task.cancel()
        if running:
            await asyncio.wait(running, timeout=CANCELLED_SETTLE_SECONDS)
        return len(running)
