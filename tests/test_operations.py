"""A running `parlor run` as an operator watches it: HTTP_PORT's /healthz, /readyz and
/metrics over real HTTP, the image's healthcheck command against them, the start-up line
about DEFAULT_BASE_URL, and /readyz turning away work as a shutdown begins."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.platforms.telegram.delivery import PTB_TIMEDELTA
from tests.fakes.bot_process import BotProcess
from tests.fakes.bot_thread import wait_for_start
from tests.fakes.console_process import bot_env
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

PRIVATE_CHAT = 5001
STARTUP_SECONDS = 60.0
TIMEOUT = 30.0


@pytest.fixture
def telegram(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    monkeypatch.setenv(PTB_TIMEDELTA, "true")
    with FakeTelegram.in_thread() as fake:
        yield fake


@pytest.fixture
def endpoint() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.in_thread() as fake:
        yield fake


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start(
    workdir: Path, telegram: FakeTelegram, endpoint: FakeOpenAI, **settings: str
) -> tuple[BotProcess, dict[str, str]]:
    chosen = {
        "TELEGRAM_TOKEN": telegram.token,
        "TELEGRAM_API_URL": telegram.base_url,
        "DEFAULT_MODEL": "fake-model",
        "DEFAULT_BASE_URL": endpoint.base_url,
        "HTTP_PORT": str(free_port()),
    }
    env = bot_env(workdir, **(chosen | settings))
    bot = BotProcess(workdir, env)
    wait_for_start(telegram, bot, lambda: telegram.waiting_polls > 0, STARTUP_SECONDS)
    return bot, env


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def healthcheck(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, with the bot's environment."""
    return subprocess.run(
        [sys.executable, "-m", "bot.healthcheck"],
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_a_running_bot_is_healthy_ready_and_counts_its_turns(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI
) -> None:
    """After one turn: /healthz and /readyz answer 200 (database and Telegram named ready),
    the healthcheck command exits 0, and /metrics counts the turn, its tokens (as the
    endpoint reported them) and its timings, with no text, token or model in the scrape."""
    without_v1 = endpoint.base_url.removesuffix("/v1")
    bot, env = start(tmp_path, telegram, endpoint, DEFAULT_BASE_URL=without_v1)
    base = f"http://127.0.0.1:{env['HTTP_PORT']}"
    try:
        telegram.user_message(PRIVATE_CHAT, "hello metrics")
        telegram.wait_for_sync(
            lambda: any(
                m.get("text") == "You said: hello metrics" for m in telegram.messages(PRIVATE_CHAT)
            ),
            timeout=TIMEOUT,
        )
        health = httpx.get(f"{base}/healthz")
        ready = httpx.get(f"{base}/readyz")
        checked = healthcheck(env)
        scrape = httpx.get(f"{base}/metrics")
    finally:
        code = bot.stop()

    assert code == 0, bot.log
    assert health.status_code == 200
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"ready": True, "not_ready": []}
    assert checked.returncode == 0, checked.stdout
    assert scrape.headers["content-type"].startswith("text/plain")
    values = samples(scrape.text)
    telegram_turn = {("platform", "telegram"), ("status", "complete"), ("cause", "none")}
    assert values[("parlor_turns_total", frozenset(telegram_turn))] == 1
    endpoint_counted = frozenset({("platform", "telegram"), ("source", "endpoint")})
    assert values[("parlor_completion_tokens_total", endpoint_counted)] > 0
    assert (
        values[("parlor_reply_duration_seconds_count", frozenset({("platform", "telegram")}))] == 1
    )
    for secret_or_text in ("hello metrics", telegram.token, "fake-model", str(PRIVATE_CHAT)):
        assert secret_or_text not in scrape.text
    # The start-up check found /v1 missing, said so once, and the turn used the repaired URL.
    assert bot.log.count(f"DEFAULT_BASE_URL {without_v1} -> using {endpoint.base_url}") == 1
    assert "DEFAULT_MODEL fake-model is listed" in bot.log
    assert endpoint.requests[-1].path == "/v1/chat/completions"


def test_readyz_turns_work_away_as_a_shutdown_begins(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI
) -> None:
    """From SIGTERM until the process is gone, /readyz answers 503 "shutting down" (a
    balancer stops sending work) while the reply being written is stopped and shown."""
    endpoint.token_interval_seconds = 0.05
    bot, env = start(tmp_path, telegram, endpoint, DEFAULT_MODEL="scenario/slow")
    ready = f"http://127.0.0.1:{env['HTTP_PORT']}/readyz"
    answers: list[httpx.Response] = []
    try:
        assert httpx.get(ready).status_code == 200
        telegram.user_message(PRIVATE_CHAT, "a long story, please")
        telegram.wait_for_sync(
            lambda: any(
                "t000003" in str(d["text"]) for d in telegram.drafts(PRIVATE_CHAT).values()
            ),
            timeout=TIMEOUT,
        )
        os.kill(bot.process.pid, signal.SIGTERM)
        with httpx.Client(timeout=2.0) as http:
            while bot.alive():  # asks until the listener is gone with the process
                try:
                    answers.append(http.get(ready))
                except httpx.TransportError:
                    break
        code = bot.process.wait(timeout=TIMEOUT)  # one signal: a second would cut it short
    finally:
        bot.stop()
    assert code == 0, bot.log
    turned_away = [a for a in answers if a.status_code == 503]
    assert turned_away, [a.status_code for a in answers]
    assert turned_away[0].json() == {"ready": False, "not_ready": ["shutting down"]}
    assert all(a.status_code == 503 for a in answers[answers.index(turned_away[0]) :])


def test_without_http_port_nothing_listens_and_the_healthcheck_says_why(tmp_path: Path) -> None:
    """HTTP_PORT is off by default: the healthcheck command names the setting, exit 1."""
    env = bot_env(tmp_path)
    env.pop("HTTP_PORT", None)
    checked = healthcheck(env)
    assert checked.returncode == 1
    assert "HTTP_PORT is not set" in checked.stdout


def test_a_port_already_taken_is_one_line_naming_http_port(
    tmp_path: Path, telegram: FakeTelegram
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = bot_env(
            tmp_path,
            TELEGRAM_TOKEN=telegram.token,
            TELEGRAM_API_URL=telegram.base_url,
            HTTP_PORT=str(port),
        )
        (tmp_path / "data").mkdir()
        done = subprocess.run(
            [sys.executable, "-m", "bot", "run"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"parlor: Can't listen on 127.0.0.1:{port} for HTTP_PORT"), done.stderr
    assert "Traceback" not in done.stderr
