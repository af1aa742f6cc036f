"""What an endpoint's refusal means: error bodies and statuses, in our words.

Backend-specific wordings live in quirks.py; knows nothing of sockets or SSE.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bot.core.errors import (
    MAX_PROVIDER_MESSAGE_CHARS,
    EndpointError,
    EndpointRateLimited,
    EndpointRejected,
    EndpointStreamError,
)
from bot.core.untrusted import safe_to_show
from bot.llm.quirks import (
    QUIRKS,
    ProviderSaid,
    detail_object_text,
    unknown_path_answered_ok,
    upstream_message,
)

NOT_JSON_HINT = "check that the base URL points at an OpenAI-compatible API"


def provider_said(body: bytes) -> ProviderSaid:
    """The message of an error body: OpenAI's `error`, FastAPI's `detail`, or a bare `message`.

    Anything else (HTML, plain text) gives an empty message: raw bodies never reach a user.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        return ProviderSaid()
    error = payload.get("error")
    if isinstance(error, dict):
        message = upstream_message(error) or error.get("message")
        return ProviderSaid(_words(message), _error_code(error))
    if isinstance(error, str):
        return ProviderSaid(_words(error))
    if "detail" in payload:
        return ProviderSaid(_words(_detail_text(payload["detail"])))
    # vLLM (before its errors moved under `error`) and Mistral: the fields at the top level.
    return ProviderSaid(_words(payload.get("message")), _error_code(payload))


def status_error(
    status: int, said: ProviderSaid, *, retry_after: float | None = None
) -> EndpointRejected:
    """The error for an HTTP status other than 2xx, with what to try next.

    A recognised backend quirk (see `QUIRKS`) wins over the words for its status class; an
    exhausted account is one, so it is never taken for a rate limit and retried.
    """
    for quirk in QUIRKS:
        known = quirk(status, said)
        if known is not None:
            return known
    provider = said.message or f"HTTP {status}"
    if status == 429:
        wait = retry_after if retry_after is not None else said_wait_seconds(said.message)
        return EndpointRateLimited(
            "the endpoint is rate limiting us",
            provider_message=provider,
            retry_after=wait,
            hint=f"wait {wait_words(wait)} and try again",
        )
    message, hint = _STATUS_WORDS.get(status) or _status_class_words(status)
    return EndpointRejected(message, status_code=status, provider_message=provider, hint=hint)


def retry_after_seconds(retry_after_ms: str | None, retry_after: str | None) -> float | None:
    """How long a 429 asks us to wait: milliseconds, else seconds or an HTTP date."""
    for value, scale in ((retry_after_ms, 0.001), (retry_after, 1.0)):
        try:
            seconds = float(value or "") * scale
        except ValueError:
            continue
        if math.isfinite(seconds):
            return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(retry_after or "")
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def said_wait_seconds(message: str) -> float | None:
    """The wait a provider's words ask for: "try again in 20s", "retry in 1m30s", "6m0s".

    OpenAI and Groq write "Please try again in 7.66s" (or "2m59.56s"), Gemini "Please
    retry in 37.9s", others "retry after 20 seconds"; a header, when sent, is preferred.
    """
    found = _RETRY_IN.search(message)
    if found is None:
        return None
    return sum(
        float(amount) * _unit_seconds(unit)
        for amount, unit in _DURATION_PART.findall(found.group(1))
    )


def _unit_seconds(unit: str) -> float:
    unit = unit.lower()
    if unit == "ms" or unit.startswith("milli"):
        return 0.001
    return {"h": 3600.0, "m": 60.0}.get(unit[0], 1.0)


_UNITS = r"milliseconds?|ms|minutes?|mins?|m|hours?|hrs?|h|seconds?|secs?|s"
_DURATION_PART = re.compile(rf"(\d+(?:\.\d+)?)\s*({_UNITS})(?![a-z])", re.IGNORECASE)
_RETRY_IN = re.compile(
    rf"\b(?:try again|retry)(?: after| in)\s+((?:\d+(?:\.\d+)?\s*(?:{_UNITS})(?![a-z])\s*)+)",
    re.IGNORECASE,
)


def wait_words(seconds: float | None) -> str:
    """How long to wait, as a person would say it: "20 seconds", "about 2 minutes"."""
    if seconds is None or seconds < 1:
        return "a moment"
    if seconds < 60:
        whole = math.ceil(seconds)
        return "1 second" if whole == 1 else f"{whole} seconds"
    if seconds < 3600:
        minutes = math.ceil(seconds / 60)
        return "about 1 minute" if minutes == 1 else f"about {minutes} minutes"
    hours = math.ceil(seconds / 3600)
    return "about 1 hour" if hours == 1 else f"about {hours} hours"


_STATUS_WORDS = {
    401: ("the endpoint rejected the API key", "check the API key (or set one)"),
    403: ("the endpoint refused access", "check the API key and that it may use this model"),
    404: (
        "the endpoint has no such path or model",
        "check the base URL ends with /v1 and the model name",
    ),
}


def _status_class_words(status: int) -> tuple[str, str]:
    if 300 <= status < 400:
        return (
            f"the endpoint answered with a redirect (HTTP {status}), which is not followed",
            "use the address it redirects to as the base URL",
        )
    if status >= 500:
        return "the endpoint had an internal error", "try again later"
    return f"the endpoint rejected the request (HTTP {status})", ""


def in_band_error(payload: dict[str, Any]) -> EndpointError:
    return ok_body_error(payload, during="mid-reply")


def ok_body_error(payload: dict[str, Any], *, during: str) -> EndpointError:
    """The `error` of a 200 answer: LM Studio's unknown path, else the provider's failure."""
    error = payload["error"]
    raw = error.get("message") if isinstance(error, dict) else error
    said = _words(raw) or "no details"
    return unknown_path_answered_ok(said) or EndpointStreamError(
        f"the endpoint reported an error {during}: {said}",
        hint="try again; if it keeps happening, try another model",
    )


def _error_code(error: dict[str, Any]) -> str:
    """A name for the error: a code that is a word, else `type`, else whatever `code` is.

    llama.cpp, vLLM and OpenRouter put the HTTP status in `code` and the name in `type`;
    Mistral puts a number string in `code` ("3230") and the name in `type`.
    """
    code, kind = error.get("code"), error.get("type")
    for value in (code, kind):
        if isinstance(value, str) and any(char.isalpha() for char in value):
            return value[:80]
    return str(code or kind or "")[:80]


def _detail_text(detail: object) -> str:
    """FastAPI's `detail`: a string, a list of validation errors with `loc` and `msg`, or
    KoboldCpp's object (see `detail_object_text`).
    """
    if isinstance(detail, str):
        return detail
    if isinstance(detail, dict):
        return detail_object_text(detail)
    items = []
    for item in detail[:5] if isinstance(detail, list) else []:
        if isinstance(item, dict) and "msg" in item:
            loc = item.get("loc")
            where = ".".join(map(str, loc)) + ": " if isinstance(loc, list) else ""
            items.append(f"{where}{item['msg']}")
    return "; ".join(items)


def _words(value: object) -> str:
    """A provider's message, safe to show, whitespace collapsed and capped; non-strings give ""."""
    if not isinstance(value, str):
        return ""
    return " ".join(safe_to_show(value).split())[:MAX_PROVIDER_MESSAGE_CHARS]
