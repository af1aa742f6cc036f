"""The bot between a simulated Discord and a fake model: in the test process (`running`), or
as a subprocess (`running_process`) for what only a real process shows."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from cryptography.fernet import Fernet

from tests.fakes.bot_process import BotProcess, running_bot
from tests.fakes.bot_thread import RunningBot, running_in_thread, wait_for_start
from tests.fakes.console_process import bot_env
from tests.fakes.discord.server import FakeDiscord
from tests.fakes.openai.server import FakeOpenAI

STARTUP_SECONDS = 60.0
Bot = TypeVar("Bot", bound=RunningBot)


@pytest.fixture
def endpoint() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.in_thread() as server:
        yield server


@pytest.fixture
def discord_fake() -> Iterator[FakeDiscord]:
    with FakeDiscord.in_thread() as fake:
        yield fake


@pytest.fixture
def bot_settings() -> dict[str, str]:
    """Environment for the bot beyond the fakes' addresses; a test module may override it."""
    return {"DEFAULT_MODEL": "fake-model"}


@pytest.fixture
def encryption_key() -> str:
    """One per test, kept across restarts of the bot within it."""
    return Fernet.generate_key().decode()


def discord_env(
    tmp_path: Path, endpoint: FakeOpenAI, fake: FakeDiscord, settings: dict[str, str], key: str
) -> dict[str, str]:
    return bot_env(
        tmp_path,
        DISCORD_TOKEN=fake.token,
        DISCORD_API_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        DEFAULT_BASE_URL=endpoint.base_url,
        ENCRYPTION_KEYS=key,
        **settings,
    )


@contextlib.contextmanager
def running(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    fake: FakeDiscord,
    settings: dict[str, str],
    key: str,
    *,
    template: Path,
) -> Iterator[RunningBot]:
    """The bot in this process against the fakes, back once it has published its commands."""
    env = discord_env(tmp_path, endpoint, fake, settings, key)
    with started(fake, running_in_thread(tmp_path, env, template)) as bot:
        yield bot


@contextlib.contextmanager
def running_process(
    tmp_path: Path, endpoint: FakeOpenAI, fake: FakeDiscord, settings: dict[str, str], key: str
) -> Iterator[BotProcess]:
    """`python -m bot run` against the fakes, back once it has published its commands."""
    env = discord_env(tmp_path, endpoint, fake, settings, key)
    with started(fake, running_bot(tmp_path, env)) as process:
        yield process


@contextlib.contextmanager
def started(fake: FakeDiscord, starting: contextlib.AbstractContextManager[Bot]) -> Iterator[Bot]:
    route = "PUT /applications/{application_id}/commands"
    synced = len(fake.calls_to(route))
    with starting as bot:
        # Generous: a parallel test run slows Python's start.
        wait_for_start(fake, bot, lambda: len(fake.calls_to(route)) > synced, STARTUP_SECONDS)
        yield bot
    assert bot.stop() == 0, bot.log  # SIGTERM for a process, its stop event in-process
    assert "Traceback" not in bot.log, bot.log
    assert fake.token not in bot.log, "the bot token leaked into the log"


@pytest.fixture
def bot(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    discord_fake: FakeDiscord,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> Iterator[RunningBot]:
    with running(
        tmp_path, endpoint, discord_fake, bot_settings, encryption_key, template=migrated_template
    ) as running_bot_:
        yield running_bot_
