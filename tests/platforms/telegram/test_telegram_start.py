"""A token Telegram refuses, at start or while running, and a second poller on the same
token: `python -m bot run` ends by itself with exit code 1 and one line saying what to do,
so an operator, and a container's restart policy, see it."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import copy_of_template
from tests.fakes.bot_process import BotProcess, run_to_end
from tests.fakes.bot_thread import wait_for_start
from tests.fakes.console_process import bot_env
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.fakes.telegram.wire import ApiError
from tests.platforms.telegram.webhook_workers import free_port

pytestmark = pytest.mark.slow

STARTUP_SECONDS = 60.0
EXIT_SECONDS = 30.0  # generous for a loaded machine; a deaf process never exits at all


@pytest.fixture
def start_bot(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI, migrated_template: Path
) -> Callable[[str], BotProcess]:
    """`python -m bot run` with a token, against the fakes."""

    def start(token: str) -> BotProcess:
        return bot_process(tmp_path, telegram, endpoint, migrated_template, token=token)

    return start


def bot_process(
    tmp_path: Path,
    telegram: FakeTelegram,
    endpoint: FakeOpenAI,
    migrated_template: Path,
    *,
    token: str,
) -> BotProcess:
    """The bot as an operator's container runs it: its warnings and errors on stderr."""
    (tmp_path / "data").mkdir()
    copy_of_template(migrated_template, tmp_path / "data" / "parlor.db")
    env = bot_env(
        tmp_path,
        TELEGRAM_TOKEN=token,
        TELEGRAM_API_URL=telegram.base_url,
        DEFAULT_BASE_URL=endpoint.base_url,
        DEFAULT_MODEL="fake-model",
        LOG_LEVEL="WARNING",
    )
    return BotProcess(tmp_path, env)


def ended(bot: BotProcess) -> tuple[int, list[str]]:
    """The exit code of a bot that stops by itself, and its stderr lines."""
    try:
        code = bot.process.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        bot.stop()
        pytest.fail(f"the bot did not exit by itself within {EXIT_SECONDS} s\n{bot.log}")
    bot.stop()  # the log is complete afterwards
    return code, bot.log.splitlines()


def assert_one_line(lines: list[str], token: str, *words: str) -> None:
    log = "\n".join(lines)
    assert len(lines) == 1, log
    assert lines[0].startswith("parlor: "), log
    assert "Traceback" not in log
    assert token.split(":", 1)[1] not in log, "the bot token leaked"
    for word in words:
        assert word in lines[0], log


@pytest.mark.parametrize(
    "refusal", [ApiError(401, "Unauthorized"), ApiError(404, "Not Found")], ids=["401", "404"]
)
def test_a_refused_token_at_start_ends_with_one_line(
    telegram: FakeTelegram, start_bot: Callable[[str], BotProcess], refusal: ApiError
) -> None:
    """Junk or revoked at start: exit 1, one line naming TELEGRAM_TOKEN, never the token."""
    telegram.wrong_token = refusal
    junk = f"{telegram.token.split(':')[0]}:AAjunk{'x' * 30}"
    code, lines = ended(start_bot(junk))
    assert code == 1, lines
    assert_one_line(lines, junk, "TELEGRAM_TOKEN", refusal.description, "@BotFather")


def test_a_token_revoked_while_running_ends_the_process(
    telegram: FakeTelegram, start_bot: Callable[[str], BotProcess]
) -> None:
    """Revoked in @BotFather mid-run: not a live but deaf process, an exit 1 and one line."""
    bot = start_bot(telegram.token)
    wait_for_start(telegram, bot, lambda: telegram.waiting_polls > 0, STARTUP_SECONDS)
    telegram.revoke_token()
    code, lines = ended(bot)
    assert code == 1, lines
    assert_one_line(lines, telegram.token, "TELEGRAM_TOKEN", "401 Unauthorized", "revoked")


def test_a_second_poller_ends_the_process(
    telegram: FakeTelegram, start_bot: Callable[[str], BotProcess]
) -> None:
    """409 Conflict (the same token polled elsewhere): exit 1 and one line, not a loop."""
    bot = start_bot(telegram.token)
    wait_for_start(telegram, bot, lambda: telegram.waiting_polls > 0, STARTUP_SECONDS)
    telegram.poll_elsewhere()
    code, lines = ended(bot)
    assert code == 1, lines
    assert_one_line(lines, telegram.token, "409 Conflict", "another process", "TELEGRAM_TOKEN")
    assert len(telegram.calls_to("getUpdates")) < 10, "the refused poll was retried"


def test_a_webhook_set_while_polling_ends_the_process(
    telegram: FakeTelegram, start_bot: Callable[[str], BotProcess]
) -> None:
    """Another deployment sets a webhook on this token: Telegram refuses getUpdates with
    409 in its own words; exit 1 and one line, not a loop."""
    bot = start_bot(telegram.token)
    wait_for_start(telegram, bot, lambda: telegram.waiting_polls > 0, STARTUP_SECONDS)
    telegram.webhook_set_elsewhere("https://elsewhere.example.org/hook")
    code, lines = ended(bot)
    assert code == 1, lines
    assert_one_line(
        lines, telegram.token, "409 Conflict", "while webhook is active", "a webhook is set"
    )


def webhook_start(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI, **settings: str
) -> subprocess.CompletedProcess[str]:
    """`python -m bot run` in webhook mode with these settings, run to its end."""
    chosen = {
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_URL": telegram.base_url,
        "DEFAULT_BASE_URL": endpoint.base_url,
        "DEFAULT_MODEL": "fake-model",
        "LOG_LEVEL": "WARNING",
        "TELEGRAM_WEBHOOK_URL": "https://bot.example.org/telegram",
    }
    env = bot_env(tmp_path, **(chosen | settings))
    (tmp_path / "data").mkdir(exist_ok=True)
    return run_to_end(tmp_path, env, "run")


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        ({"HTTP_PORT": "8080"}, ("TELEGRAM_WEBHOOK_SECRET", "1 to 256 characters")),
        ({"TELEGRAM_WEBHOOK_SECRET": "abc"}, ("HTTP_PORT", "HTTP listener")),
    ],
    ids=["no-secret", "no-http-port"],
)
def test_a_webhook_missing_a_setting_is_refused_with_one_line(
    tmp_path: Path,
    telegram: FakeTelegram,
    endpoint: FakeOpenAI,
    settings: dict[str, str],
    words: tuple[str, ...],
) -> None:
    """TELEGRAM_WEBHOOK_URL without its secret or a listener: exit 2 (a setting to fix),
    one line naming what is missing, and Telegram never asked."""
    ended_run = webhook_start(tmp_path, telegram, endpoint, **settings)
    assert ended_run.returncode == 2, ended_run.stderr
    assert_one_line(ended_run.stderr.splitlines(), telegram.token, "TELEGRAM_WEBHOOK_URL", *words)
    assert telegram.calls == []


def test_a_webhook_telegram_refuses_ends_with_one_line(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI
) -> None:
    """A URL Telegram will not post to (plain http to a public host): exit 1, one line
    naming TELEGRAM_WEBHOOK_URL and what Telegram said."""
    ended_run = webhook_start(
        tmp_path,
        telegram,
        endpoint,
        TELEGRAM_WEBHOOK_URL="http://bot.example.org/telegram",
        TELEGRAM_WEBHOOK_SECRET="abc",
        HTTP_PORT=str(free_port()),
    )
    assert ended_run.returncode == 1, ended_run.stderr
    assert_one_line(
        ended_run.stderr.splitlines(),
        telegram.token,
        "TELEGRAM_WEBHOOK_URL",
        "an https url must be provided",  # as PTB words it
    )


def test_telegram_failing_at_set_webhook_ends_with_one_line(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI
) -> None:
    """Telegram's side failing (502) when the webhook is asked for: exit 1 and one line
    saying Telegram could not be reached, not that it refused the URL."""
    telegram.fail_next("getWebhookInfo", 502, "Bad Gateway")
    ended_run = webhook_start(
        tmp_path, telegram, endpoint, TELEGRAM_WEBHOOK_SECRET="abc", HTTP_PORT=str(free_port())
    )
    assert ended_run.returncode == 1, ended_run.stderr
    assert_one_line(
        ended_run.stderr.splitlines(), telegram.token, "Could not reach Telegram", "Bad Gateway"
    )
