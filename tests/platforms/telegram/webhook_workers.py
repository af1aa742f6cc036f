"""Bots in Telegram webhook mode against the fake Bot API: their settings, and waiting for
one to take updates (its /readyz), for the in-thread and the subprocess tests alike."""

from __future__ import annotations

import contextlib
import socket
import time

import httpx

from tests.fakes.bot_thread import RunningBot

SECRET = "worker-secret_0123456789"
PATH = "/telegram/updates"
READY_SECONDS = 60.0
"""Generous: a parallel test run on two cores slows a bot's start a lot."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listener_url(port: int) -> str:
    """Where a worker on `port` takes updates (what a balancer forwards to)."""
    return f"http://127.0.0.1:{port}{PATH}"


def webhook_settings(port: int, *, public_url: str | None = None) -> dict[str, str]:
    """A worker's settings: its own HTTP_PORT; the webhook's public URL, by default this
    worker's own listener (one worker, no balancer)."""
    return {
        "HTTP_PORT": str(port),
        "TELEGRAM_WEBHOOK_URL": public_url or listener_url(port),
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "TELEGRAM_WEBHOOK_PATH": PATH,
    }


def wait_until_ready(bot: RunningBot, port: int, timeout: float = READY_SECONDS) -> None:
    """Until the worker's /readyz says 200 (database answering, Telegram taking updates);
    fails at once, with its log, if the bot ends first. Asked every 0.1 s: the bot has no
    fake to notify us."""
    deadline = time.monotonic() + timeout
    while True:
        assert bot.alive(), bot.log
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2.0).status_code == 200:
                return
        assert time.monotonic() < deadline, f"not ready within {timeout} s\n{bot.log}"
        time.sleep(0.1)
