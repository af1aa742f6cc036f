"""The redaction filter keeps secrets out of log lines."""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.logs import REDACTED, RedactionFilter, log_handler

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


def json_lines_of(
    emit: Callable[[logging.Logger], None], secrets: list[str]
) -> list[dict[str, Any]]:
    """What LOG_FORMAT=json writes for the records `emit` logs, as parsed objects."""
    stream = io.StringIO()
    logger = logging.getLogger("parlor.test.json")
    handler = log_handler(stream, RedactionFilter(secrets), json_lines=True)
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_logs_are_one_object_a_line_with_time_level_logger_event_and_extras() -> None:
    """A log collector gets the fields by name, the message formatted, extras alongside."""

    def emit(logger: logging.Logger) -> None:
        logger.warning(
            "reply failed after %.1fs", 2.5, extra={"channel": "discord:42", "cause": "Timeout"}
        )
        logger.info("multi\nline ✓")

    first, second = json_lines_of(emit, [])
    assert first["event"] == "reply failed after 2.5s"
    assert (first["level"], first["logger"]) == ("WARNING", "parlor.test.json")
    assert (first["channel"], first["cause"]) == ("discord:42", "Timeout")
    assert datetime.fromisoformat(first["time"]).utcoffset() == timedelta(0)
    assert second["event"] == "multi\nline ✓"


def test_json_logs_redact_secrets_in_messages_and_tracebacks() -> None:
    """The traceback is formatted afresh for JSON: it is redacted there as well."""
    key = "sk-" + secrets.token_hex(12)  # key-shaped, made up per run

    def emit(logger: logging.Logger) -> None:
        try:
            raise ValueError(f"endpoint refused key {key} and token hunter2token")
        except ValueError:
            logger.exception("calling with %s failed", key)

    [line] = json_lines_of(emit, ["hunter2token"])
    text = json.dumps(line)
    assert key not in text
    assert "hunter2token" not in text
    assert "ValueError" in line["exc_info"]
    assert REDACTED in line["event"]
    assert REDACTED in line["exc_info"]
