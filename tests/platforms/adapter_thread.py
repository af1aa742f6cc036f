"""The bot in a thread as Parlor builds it, but with the platform adapter built by the test.

For adapter options the composition root does not pass yet (or that a test sets apart
from Settings): the service, database and pacing are Parlor's own, the adapter is the
one `build` makes from them, served until `stop` as `run_platforms` serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from bot.app import Parlor
from bot.config import Settings
from tests.fakes.bot_thread import (
    BotThread,
    LogCapture,
    copy_template,
    sdk_defaults_restored,
    settings_from,
)

BuildAdapter = Callable[[Parlor], AbstractAsyncContextManager[object]]


class AdapterThread(BotThread):
    """A BotThread whose platform is the adapter `build` makes."""

    def __init__(self, settings: Settings, log: LogCapture, build: BuildAdapter) -> None:
        self._build = build  # before the thread starts, in BotThread's constructor
        super().__init__(settings, log)

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._started.set()
        async with Parlor(self._settings) as app, self._build(app):
            await self._stop_event.wait()


@contextlib.contextmanager
def running_adapter(
    workdir: Path, env: Mapping[str, str], template: Path, build: BuildAdapter
) -> Iterator[AdapterThread]:
    """As `running_in_thread`, with the adapter `build` makes from the opened Parlor."""
    settings = settings_from(env)
    copy_template(template, workdir)
    log = LogCapture(settings)
    with log.installed(), sdk_defaults_restored():
        bot = AdapterThread(settings, log, build)
        try:
            yield bot
        finally:
            bot.stop()
