"""Winding down the handlers that run at shutdown: let them end, cancel what does not."""

from __future__ import annotations

import asyncio

from bot.platforms.discord.running import RunningHandlers


async def test_a_handler_that_ends_in_time_is_not_cut() -> None:
    """A handler finishing its reply (the service has stopped it) is waited for."""
    handlers = RunningHandlers()
    gate = asyncio.Event()
    ended: list[str] = []

    async def handler() -> None:
        await gate.wait()
        ended.append("by itself")

    running = asyncio.create_task(handlers.tracked(handler)())
    await asyncio.sleep(0)  # the handler has started and is known
    winding = asyncio.create_task(handlers.wind_down(30.0))
    gate.set()

    assert await winding == 0
    assert ended == ["by itself"]
    await running


async def test_a_handler_still_running_at_the_deadline_is_cancelled() -> None:
    """Past the wait, a handler is cancelled and may settle what it was doing."""
    handlers = RunningHandlers()
    settled: list[str] = []

    async def handler() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            settled.append("settled")
            raise

    running = asyncio.create_task(handlers.tracked(handler)())
    await asyncio.sleep(0)

    assert await handlers.wind_down(0.05) == 1
    assert settled == ["settled"]
    assert running.cancelled()
