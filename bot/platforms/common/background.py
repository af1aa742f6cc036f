"""Work that lasts as long as a block: a typing signal kept alive while a turn runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any


@contextlib.asynccontextmanager
async def meanwhile(
    work: Callable[[], Coroutine[Any, Any, None]], *, name: str
) -> AsyncIterator[None]:
    """Run `work()` in a task for the duration of the block, and cancel it at the end, so
    no signal outlives the turn it was for."""
    task = asyncio.create_task(work(), name=name)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
