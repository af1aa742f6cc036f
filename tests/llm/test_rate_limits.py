"""A 429 says how long to wait: from Retry-After (seconds or a date) or the provider's words."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.core.errors import EndpointRateLimited, user_message
from bot.llm.refusals import provider_said, retry_after_seconds, status_error


def _body(message: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": "rate_limit_error"}}).encode()


def _refusal(message: str, *, ms: str | None = None, header: str | None = None) -> str:
    error = status_error(
        429, provider_said(_body(message)), retry_after=retry_after_seconds(ms, header)
    )
    assert isinstance(error, EndpointRateLimited)
    return user_message(error)


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("20", "Wait 20 seconds and try again."),
        ("1", "Wait 1 second and try again."),
        ("0.4", "Wait a moment and try again."),
        ("90", "Wait about 2 minutes and try again."),
        ("600", "Wait about 10 minutes and try again."),
        ("7200", "Wait about 2 hours and try again."),
    ],
)
def test_retry_after_seconds_are_said_in_words(header: str, words: str) -> None:
    """Retry-After in seconds becomes a wait a person can read."""
    assert _refusal("Rate limit reached", header=header).endswith(words)


def test_retry_after_as_a_date_is_said_in_words() -> None:
    """Retry-After as an HTTP date two minutes ahead asks for about two minutes."""
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=115), usegmt=True)
    assert _refusal("Too many requests", header=when).endswith(
        "Wait about 2 minutes and try again."
    )


def test_retry_after_ms_is_read_first() -> None:
    """OpenAI's retry-after-ms is preferred to the coarser seconds."""
    assert _refusal("slow down", ms="3500", header="60").endswith("Wait 4 seconds and try again.")


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (
            "Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM): "
            "Limit 30000, Used 29000, Requested 2000. Please try again in 20s.",
            "Wait 20 seconds",
        ),
        ("Rate limit reached for model `llama3`. Please try again in 7.66s.", "Wait 8 seconds"),
        ("Please try again in 2m59.56s. Need more tokens?", "Wait about 3 minutes"),
        ("You exceeded your current rate. Please retry in 37.942529715s.", "Wait 38 seconds"),
        ("Too many requests, retry after 45 seconds", "Wait 45 seconds"),
        ("Please try again in 6m0s.", "Wait about 6 minutes"),
        ("Please try again in 350ms.", "Wait a moment"),
        ("Rate limit exceeded", "Wait a moment"),
    ],
)
def test_provider_words_give_the_wait_without_a_header(message: str, words: str) -> None:
    """Without a header, "try again in 20s" and the like in the body say how long."""
    assert f"{words} and try again." in _refusal(message)


def test_the_wait_is_kept_on_the_error() -> None:
    """The parsed wait is carried as data, for anything that wants to wait itself."""
    error = status_error(429, provider_said(_body("Please try again in 1m30s.")))
    assert isinstance(error, EndpointRateLimited)
    assert error.retry_after == 90
