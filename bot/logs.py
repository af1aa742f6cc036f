"""Logging set-up and the redaction filter that keeps secrets out of every log line.

The filter sits on the handler, not a logger: filters on loggers do not see
records propagated from child loggers such as httpx's.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from types import TracebackType
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[^\s'\"]+"),
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"\bbot\d{5,}:[A-Za-z0-9_\-]{20,}"),
    re.compile(r"(?i)([?&](?:api_?key|key|token|access_token)=)[^&\s'\"]+"),
    re.compile(r"(//[^/\s:@]+:)[^@/\s]+@"),
)
REDACTED = "[redacted]"
_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
NOISY_LOGGERS = ("httpx", "httpcore", "aiosqlite", "asyncio")


class RedactionFilter(logging.Filter):
    """Scrubs known secret values and secret-shaped text from a record's final text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        for pattern in _SECRET_PATTERNS:
            text = pattern.sub(_keep_prefix, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def _keep_prefix(match: re.Match[str]) -> str:
    prefix = match.group(1) if match.lastindex else ""
    suffix = "@" if match.group(0).endswith("@") else ""
    return f"{prefix}{REDACTED}{suffix}"


def configure_logging(level: str, *, secrets: Iterable[str] = (), json_lines: bool = False) -> None:
    """One stderr handler with redaction, the only one the root logger has."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(log_handler(sys.stderr, RedactionFilter(secrets), json_lines=json_lines))
    root.setLevel(level)
    hold_noisy_loggers(root.level)


def log_handler(
    stream: TextIO, redaction: RedactionFilter, *, json_lines: bool = False
) -> logging.Handler:
    """A handler writing the bot's log lines to `stream`, every record redacted: text for
    people, or one JSON object a line for a log collector (LOG_FORMAT=json).

    Tests that run the bot in their own process install the same handler, so what they
    read is what an operator's stderr would show.
    """
    handler = logging.StreamHandler(stream)
    if json_lines:
        handler.setFormatter(JsonLines(redaction))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redaction)
    return handler


class JsonLines(JsonFormatter):
    """One JSON object a line: `time` (ISO 8601, UTC), `level`, `logger`, `event` (the
    message), what a call passes in `extra=` (channel, model, durations, cause …), and a
    traceback as `exc_info`.

    The redaction filter rewrites a record's message and traceback text, but this
    formatter would format the traceback afresh from the exception: it is redacted here
    too, so a secret in an exception never reaches a log collector.
    """

    def __init__(self, redaction: RedactionFilter) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "message": "event"},
            timestamp="time",
            json_ensure_ascii=False,
        )
        self._redaction = redaction

    def formatException(self, ei: _ExcInfo) -> str:
        formatted = super().formatException(ei)  # a list only with exc_info_as_array
        text = formatted if isinstance(formatted, str) else "\n".join(formatted)
        return self._redaction.redact(text)


def hold_noisy_loggers(root_level: int) -> None:
    """Chatty libraries at WARNING at least: httpx logs every request URL at INFO, and
    python-telegram-bot puts the bot token in that URL."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root_level))
