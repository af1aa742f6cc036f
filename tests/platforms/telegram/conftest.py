"""The bot in the test process between a fake Telegram and a fake model (the subprocess
smoke tests, real kills of `python -m bot run`, are in ../test_kill_keeps_shown_text.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from bot.platforms.telegram.delivery import PTB_TIMEDELTA
from tests.fakes.bot_thread import RunningBot, running_in_thread, wait_for_start
from tests.fakes.console_process import bot_env
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

STARTUP_SECONDS = 60.0


@pytest.fixture(autouse=True)
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    """As the adapter sets it at start: PTB then raises no deprecation warning on a 429."""
    monkeypatch.setenv(PTB_TIMEDELTA, "true")


@pytest.fixture
def endpoint() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.in_thread() as server:
        yield server


@pytest.fixture
def telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram.in_thread() as fake:
        yield fake


@pytest.fixture
def bot_settings() -> dict[str, str]:
    """Environment for the bot beyond the fakes' addresses; a test module may override it."""
    return {"DEFAULT_MODEL": "fake-model"}


@contextlib.contextmanager
def running(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    settings: dict[str, str],
    *,
    template: Path,
) -> Iterator[RunningBot]:
    """The bot in this process configured by `settings` (variables as in .env) against the
    fakes, back once it polls; afterwards it must have stopped cleanly, token unlogged."""
    env = bot_env(
        tmp_path,
        TELEGRAM_TOKEN=telegram.token,
        TELEGRAM_API_URL=telegram.base_url,
        DEFAULT_BASE_URL=endpoint.base_url,
        ENCRYPTION_KEYS=Fernet.generate_key().decode(),
        **settings,
    )
    with running_in_thread(tmp_path, env, template) as process:
        # Generous: a parallel test run slows everything down.
        wait_for_start(telegram, process, lambda: telegram.waiting_polls > 0, STARTUP_SECONDS)
        yield process
    assert process.stop() == 0, process.log  # a stop as SIGTERM's: a clean exit
    assert "Traceback" not in process.log, process.log
    secret = telegram.token.split(":", 1)[1]
    assert secret not in process.log, "the bot token leaked into the log"


@pytest.fixture
def bot(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    telegram: FakeTelegram,
    bot_settings: dict[str, str],
    migrated_template: Path,
) -> Iterator[RunningBot]:
    with running(tmp_path, endpoint, telegram, bot_settings, template=migrated_template) as bot_:
        yield bot_


MIDNIGHT_MARGIN = timedelta(minutes=2)
"""Longer than any test of the day's counts takes, on a loaded machine too."""


@pytest.fixture
def away_from_midnight() -> None:
    """Days and months start again at 00:00 UTC, on the bot's real clock: a test counting
    today's turns would see them split in two across it, so it does not start that close."""
    now = datetime.now(UTC)
    tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    if tomorrow - now < MIDNIGHT_MARGIN:
        pytest.skip("too close to 00:00 UTC, when today's counts start again")
