"""Runs the bot inside the test process: `Parlor(settings).run_platforms` (or `run_console`)
on an event loop of its own thread, against the fakes, with its log captured as
`python -m bot` writes it.

Starting Python and importing the SDKs costs seconds per subprocess; this costs a thread.
What only a real process shows (signals, a kill, the command line) is left to the
subprocess tests (`bot_process`). Process-wide state the bot touches is put back after it:
the logging levels here, discord.py's class attributes in `sdk_defaults_restored`.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import io
import json
import logging
import os
import shutil
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import discord
from discord.gateway import DiscordWebSocket
from discord.http import Route
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.app import Parlor, operator_secrets
from bot.config import Settings
from bot.core.errors import BotError
from bot.logs import NOISY_LOGGERS, RedactionFilter, hold_noisy_loggers, log_handler
from bot.platforms.console.session import ConsoleIdentity
from bot.platforms.telegram.delivery import PTB_TIMEDELTA
from tests.fakes.threaded import FAKE_THREAD_PREFIX

STOP_TIMEOUT_SECONDS = 30.0
CONSOLE_TIMEOUT_SECONDS = 60.0
"""A console session that has not used up its input by then has hung: fail, not stall."""


class RunningBot(Protocol):
    """What a test sees of a running bot, in a thread or a subprocess."""

    @property
    def log(self) -> str: ...

    def alive(self) -> bool: ...

    def stop(self) -> int: ...


class WaitsForSync(Protocol):
    """A fake that can block this thread until a condition on it holds."""

    def wait_for_sync(self, predicate: Callable[[], object], timeout: float = ...) -> object: ...


def wait_for_start(
    fake: WaitsForSync, bot: RunningBot, started: Callable[[], bool], timeout: float
) -> None:
    """Until `started()` holds; fails at once, with the bot's log, if the bot ends first.

    The fake wakes its waiters when it is called, not when a bot dies without calling it,
    so the wait is taken a second at a time to look at the bot in between.
    """
    deadline = time.monotonic() + timeout
    while not started():
        assert bot.alive(), bot.log
        left = deadline - time.monotonic()
        assert left > 0, f"the bot did not start within {timeout} s\n{bot.log}"
        with contextlib.suppress(TimeoutError):
            fake.wait_for_sync(started, timeout=min(left, 1.0))


class _EnvironmentOnly(Settings):
    """Settings from the given values alone: not the test process's environment or `.env`."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def settings_from(env: Mapping[str, str]) -> Settings:
    """The Settings `python -m bot` would read from `env` (variable names as in .env)."""
    fields = Settings.model_fields
    values = {name.lower(): value for name, value in env.items() if name.lower() in fields}
    return _EnvironmentOnly(**values)


class LogCapture:
    """The bot's log lines, as its stderr handler would write them: redacted, with the
    chatty libraries held at WARNING. Lines from the fakes' threads are left out, as they
    are not in a subprocess's log."""

    def __init__(self, settings: Settings) -> None:
        self._stream = io.StringIO()
        self._redaction = RedactionFilter(operator_secrets(settings))
        self._handler = log_handler(self._stream, self._redaction)
        self._handler.addFilter(lambda r: not r.threadName or not _from_a_fake(r.threadName))
        self._level = settings.log_level

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        root = logging.getLogger()
        levels = {name: logging.getLogger(name).level for name in ("", *NOISY_LOGGERS)}
        # First among the handlers: the redaction filter rewrites the record itself, so
        # pytest's own capture, after it, never holds a secret either.
        root.handlers.insert(0, self._handler)
        root.setLevel(self._level)
        hold_noisy_loggers(root.level)
        try:
            yield
        finally:
            root.removeHandler(self._handler)
            for name, level in levels.items():
                logging.getLogger(name).setLevel(level)

    def write(self, text: str) -> None:
        """What the process would print itself (not through logging), redacted the same way."""
        with self._handler.lock or contextlib.nullcontext():
            self._stream.write(self._redaction.redact(text))

    @property
    def text(self) -> str:
        with self._handler.lock or contextlib.nullcontext():
            return self._stream.getvalue()


def _from_a_fake(thread_name: str) -> bool:
    return thread_name.startswith(FAKE_THREAD_PREFIX)


class BotThread:
    """`python -m bot run`'s work, in a thread: serves the platforms until `stop`."""

    def __init__(self, settings: Settings, log: LogCapture) -> None:
        self._settings = settings
        self._log = log
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._started = threading.Event()
        self._code: int | None = None
        self._thread = threading.Thread(target=self._main, name="parlor-bot", daemon=True)
        self._thread.start()
        self._started.wait(STOP_TIMEOUT_SECONDS)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BotError as exc:  # as `python -m bot` reports it: one line, exit code 1
            self._log.write(f"parlor: {exc}\n")
            self._code = 1
        except BaseException:  # the uncaught traceback a process would print
            self._log.write(traceback.format_exc())
            self._code = 1
        else:
            self._code = 0
        finally:
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        self._started.set()
        async with Parlor(self._settings) as app:
            await app.run_platforms(self._stop_event)

    @property
    def log(self) -> str:
        """What the bot logged so far; all of it once `stop` has returned."""
        return self._log.text

    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> int:
        """Stop serving, as SIGTERM does, and return the exit code a process would. Safe to
        repeat."""
        if self._thread.is_alive() and self._loop is not None and self._stop_event is not None:
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                self._loop.call_soon_threadsafe(self._stop_event.set)
        self._thread.join(STOP_TIMEOUT_SECONDS)
        assert not self._thread.is_alive(), f"the bot did not stop\n{self.log}"
        return self._code if self._code is not None else 1


@contextlib.contextmanager
def running_in_thread(workdir: Path, env: Mapping[str, str], template: Path) -> Iterator[BotThread]:
    """The bot configured by `env` (as `bot_env` builds it), its database in `workdir/data`
    started from the migrated `template` unless a bot already made it."""
    settings = settings_from(env)
    copy_template(template, workdir)
    log = LogCapture(settings)
    with log.installed(), sdk_defaults_restored():
        bot = BotThread(settings, log)
        try:
            yield bot
        finally:
            bot.stop()


def copy_template(template: Path, workdir: Path) -> None:
    """Start the bot's database (`bot_env` puts it in workdir/data) from the migrated
    template, unless a bot before it in this test made it already."""
    database = workdir / "data" / "parlor.db"
    if not database.exists():
        database.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(template, database)


@contextlib.contextmanager
def sdk_defaults_restored() -> Iterator[None]:
    """discord.py keeps where it connects as class attributes, and PTB its timedelta switch
    in the environment, both set by the composition root; the next test (or the next bot)
    starts from the libraries' own again."""
    saved = [
        (Route, "BASE", Route.BASE),
        (DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY),
        (discord.VoiceClient, "warn_nacl", discord.VoiceClient.warn_nacl),
        (discord.VoiceClient, "warn_dave", discord.VoiceClient.warn_dave),
    ]
    timedelta_periods = os.environ.get(PTB_TIMEDELTA)
    try:
        yield
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)
        if timedelta_periods is None:
            os.environ.pop(PTB_TIMEDELTA, None)
        else:
            os.environ[PTB_TIMEDELTA] = timedelta_periods


@dataclass
class ConsoleRun:
    """A finished `python -m bot console --jsonl` session: its events and its log."""

    events: list[dict[str, Any]]
    log: str

    def command_text(self, name: str) -> str:
        """The answer to the command `name`."""
        return str(
            next(e["text"] for e in self.events if e["type"] == "command" and e["name"] == name)
        )


def run_console_in_thread(
    workdir: Path, env: Mapping[str, str], *lines: str, template: Path
) -> ConsoleRun:
    """Feed `lines` to the console's JSONL session, as `console_process.run_console` does
    with a subprocess, and return every event once the input is used up."""
    settings = settings_from(env)
    copy_template(template, workdir)
    stdin = io.StringIO("".join(f"{line}\n" for line in lines))
    stdout = io.StringIO()
    identity = ConsoleIdentity(chat_id="console", user_name=getpass.getuser())

    async def session() -> None:
        async with Parlor(settings) as app:
            await app.run_console(stdin, stdout, identity=identity, jsonl=True)

    log = LogCapture(settings)
    pool = ThreadPoolExecutor(max_workers=1)  # the caller may be inside an event loop
    with log.installed():
        try:
            pool.submit(asyncio.run, session()).result(timeout=CONSOLE_TIMEOUT_SECONDS)
        finally:
            pool.shutdown(wait=False)  # after a timeout: report it, not wait for the hang
    events = [json.loads(line) for line in stdout.getvalue().splitlines()]
    return ConsoleRun(events, log.text)
