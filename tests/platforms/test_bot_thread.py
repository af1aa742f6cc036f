"""The in-process bot harness tells the truth: its settings come only from the env it is
given, and its log is the one `python -m bot` would write (redacted, without the fakes)."""

from __future__ import annotations

import logging
import secrets
import threading

import pytest

from tests.fakes.bot_thread import LogCapture, settings_from
from tests.fakes.threaded import FAKE_THREAD_PREFIX

TOKEN = f"123456789:AA{secrets.token_hex(16)}"
"""Shaped like a bot token, made up per run: no token-like literal sits in the repository."""


def test_settings_ignore_the_test_processs_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A developer's own DISCORD_TOKEN or LOG_LEVEL never reaches a test's bot."""
    monkeypatch.setenv("DISCORD_TOKEN", "from-the-developer")
    monkeypatch.setenv("LOG_LEVEL", "DEBUG")
    settings = settings_from({"TELEGRAM_TOKEN": TOKEN, "PATH": "/usr/bin"})
    assert settings.discord_token is None
    assert settings.log_level == "INFO"
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == TOKEN


def test_the_log_is_redacted_and_leaves_out_the_fakes() -> None:
    """The bot's lines come out with the token scrubbed, and a fake's lines not at all."""
    log = LogCapture(settings_from({"TELEGRAM_TOKEN": TOKEN}))

    def say(text: str) -> None:
        logging.getLogger("bot.test").warning("%s", text)

    with log.installed():
        for name, text in (
            ("parlor-bot", f"url /bot{TOKEN}/getMe"),
            (f"{FAKE_THREAD_PREFIX}x", "fake"),
        ):
            thread = threading.Thread(target=say, args=(text,), name=name)
            thread.start()
            thread.join()
    assert "url /bot[redacted]/getMe" in log.text
    assert TOKEN not in log.text
    assert "fake" not in log.text
