"""The bot as a subprocess (`python -m bot run`) between a simulated Discord and a fake model."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.fakes.bot_process import BotProcess, running_bot
from tests.fakes.console_process import bot_env
from tests.fakes.discord.server import FakeDiscord
from tests.fakes.openai.server import FakeOpenAI

STARTUP_SECONDS = 60.0


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


@contextlib.contextmanager
def running(
    tmp_path: Path, endpoint: FakeOpenAI, fake: FakeDiscord, settings: dict[str, str], key: str
) -> Iterator[BotProcess]:
    """`python -m bot run` against the fakes, back once it has published its commands."""
    env = bot_env(
        tmp_path,
        DISCORD_TOKEN=fake.token,
        DISCORD_API_URL=fake.api_url,
        DISCORD_GATEWAY_URL=fake.gateway_url,
        DEFAULT_BASE_URL=endpoint.base_url,
        ENCRYPTION_KEYS=key,
        **settings,
    )
    route = "PUT /applications/{application_id}/commands"
    synced = len(fake.calls_to(route))
    with running_bot(tmp_path, env) as process:
        fake.wait_for_sync(
            lambda: len(fake.calls_to(route)) > synced or not process.alive(),
            timeout=STARTUP_SECONDS,  # generous: a parallel test run slows Python's start
        )
        assert process.alive(), process.log
        yield process
    assert "Traceback" not in process.log, process.log
    assert fake.token not in process.log, "the bot token leaked into the log"


@pytest.fixture
def bot(
    tmp_path: Path,
    endpoint: FakeOpenAI,
    discord_fake: FakeDiscord,
    bot_settings: dict[str, str],
    encryption_key: str,
) -> Iterator[BotProcess]:
    with running(tmp_path, endpoint, discord_fake, bot_settings, encryption_key) as process:
        yield process
