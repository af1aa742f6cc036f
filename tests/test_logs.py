"""The redaction filter keeps secrets out of log lines."""

from __future__ import annotations

import logging

import pytest

from bot.logs import RedactionFilter

# Built at run time so that nothing shaped like a real secret sits in the repository.
FAKE_TOKEN_TAIL = "fake" + "x" * 30
FAKE_KEY = "sk-" + "fake" * 5


def record(message: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("t", logging.INFO, __file__, 1, message, args, None)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer abc.def-123", "abc.def-123"),
        ("key sk-proj-abcdefghijklmnop used", "sk-proj-abcdefghijklmnop"),
        ("POST https://api.telegram.org/bot123456789:" + FAKE_TOKEN_TAIL + "/x", FAKE_TOKEN_TAIL),
        ("GET http://h/v1/models?api_key=zzz-secret&x=1", "zzz-secret"),
        ("http://user:hunter2@host/v1", "hunter2"),
    ],
)
def test_secret_shaped_text_is_scrubbed(text: str, secret: str) -> None:
    """Bearer tokens, sk- keys, bot tokens, key query parameters and URL passwords vanish."""
    rec = record("%s", text)
    RedactionFilter().filter(rec)
    assert secret not in rec.getMessage()
    assert "[redacted]" in rec.getMessage()


def test_known_secret_is_scrubbed_anywhere() -> None:
    """An operator secret of any shape is removed wherever it appears."""
    rec = record("value=%s!", "plainvalue42")
    RedactionFilter(["plainvalue42"]).filter(rec)
    assert rec.getMessage() == "value=[redacted]!"


def test_secret_in_traceback_is_scrubbed() -> None:
    """Exception text is redacted too."""
    try:
        raise ValueError(f"bad key {FAKE_KEY}")
    except ValueError:
        import sys

        rec = logging.LogRecord("t", logging.ERROR, __file__, 1, "boom", (), sys.exc_info())
    RedactionFilter().filter(rec)
    assert rec.exc_text is not None
    assert FAKE_KEY not in rec.exc_text


def test_plain_text_is_left_alone() -> None:
    """Ordinary log lines pass unchanged."""
    rec = record("turn channel=%s chars=%d", "console:x", 12)
    RedactionFilter().filter(rec)
    assert rec.getMessage() == "turn channel=console:x chars=12"
