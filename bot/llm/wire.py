"""The OpenAI chat-completions wire format: request bodies out; deltas, model ids and errors in.

Wire dicts are born and die here; knows nothing of sockets, SSE framing or timeouts.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

from bot.domain import ChatMessage, Completion, CompletionRequest, Delta, Usage
from bot.errors import (
    MAX_PROVIDER_MESSAGE_CHARS,
    EndpointRateLimited,
    EndpointRejected,
    EndpointStreamError,
    MaxTokensFieldRejected,
)

_log = logging.getLogger(__name__)

DONE = "[DONE]"
"""The data of the event that ends an OpenAI stream."""

EMPTY_DELTA = Delta()
_raw_decode = json.JSONDecoder().raw_decode
_NOT_JSON_HINT = "check that the base URL points at an OpenAI-compatible API"


@dataclass(frozen=True, slots=True)
class ProviderError:
    """What an error body said, in words fit for a user (never the raw body)."""

    message: str = ""
    code: str = ""


def request_path(request: CompletionRequest) -> str:
    """Chat messages go to chat/completions; a finished prompt string to completions."""
    return "chat/completions" if request.prompt is None else "completions"


def request_body(request: CompletionRequest, *, stream: bool) -> dict[str, object]:
    """The JSON body; only the sampling params that are set go out.

    The connection's extra body is merged over ours (an operator may override any
    field), except stop strings, which the channel sets; excluded keys go last.
    When streaming we ask for a final usage chunk; servers that do not know the
    option ignore it.
    """
    options = request.connection.options
    body: dict[str, object] = {"model": request.model, "stream": stream}
    if request.prompt is None:
        body["messages"] = [_wire_message(message) for message in request.messages]
    else:
        body["prompt"] = request.prompt
    body.update(request.params.as_mapping())
    field = options.max_tokens_field
    if field and field != MAX_TOKENS and MAX_TOKENS in body:
        body[field] = body.pop(MAX_TOKENS)
    if stream:
        body["stream_options"] = {"include_usage": True}
    body.update(options.extra_body)
    if request.params.stop:
        body["stop"] = list(request.params.stop)
    for key in options.exclude_keys:
        body.pop(key, None)
    return body


def _wire_message(message: ChatMessage) -> dict[str, str]:
    item = {"role": message.role.value, "content": message.content}
    if message.name:
        item["name"] = message.name
    return item


MAX_TOKENS = "max_tokens"
MAX_COMPLETION_TOKENS = "max_completion_tokens"


def rejected_max_tokens_field(status: int, said: ProviderError) -> str | None:
    """The other max-tokens field to try, when a 400 says the one we sent is not accepted.

    OpenAI's newer models answer "Unsupported parameter: 'max_tokens' … Use
    'max_completion_tokens' instead"; servers that predate the new name reject it as
    unknown. The field named first is the refused one.
    """
    text = said.message.lower()
    if status != 400 or not any(word in text for word in _REFUSAL_WORDS):
        return None
    named = [(text.find(f), f) for f in (MAX_TOKENS, MAX_COMPLETION_TOKENS) if f in text]
    if not named:
        return None
    refused = min(named)[1]
    return MAX_COMPLETION_TOKENS if refused == MAX_TOKENS else MAX_TOKENS


_REFUSAL_WORDS = (
    "unsupported",
    "not supported",
    "unrecognized",
    "unknown",
    "not permitted",
    "extra",
    "invalid",
)


class ChunkReader:
    """Reads the data events of one streamed reply in order and knows whether it ended well.

    A reply ends well with `[DONE]` or after a finish_reason; a body that simply stops
    is a cut-off reply (the deltas before it have been handed out already).
    """

    __slots__ = ("done", "finished", "received")

    def __init__(self) -> None:
        self.done = False  # [DONE] arrived: read no further
        self.finished = False  # a finish_reason arrived
        self.received = False  # a delta arrived

    def read(self, data: str) -> Delta | None:
        """The delta of one event, or None when it carries nothing (a role-only chunk, [DONE])."""
        if self.done:
            return None
        if data == DONE:
            self.done = True
            return None
        delta = parse_chunk(data)
        if delta.finish_reason:
            self.finished = True
        elif not (delta.content or delta.reasoning or delta.usage):
            return None
        self.received = True
        return delta

    def end(self) -> None:
        """The body ended: raises EndpointStreamError unless the reply ended well."""
        if self.done or self.finished:
            return
        if not self.received:
            raise EndpointStreamError(
                "the endpoint closed the stream without a reply",
                hint="the prompt may be too long for the model's context; try again",
            )
        raise EndpointStreamError(
            "the reply was cut off", hint="the endpoint closed the connection mid-reply"
        )


def parse_chunk(data: str) -> Delta:
    """One streamed `data:` payload as a Delta.

    Raises EndpointStreamError for an `error` payload (OpenRouter reports failures inside a
    200 stream) and for data that is not a JSON object. Blank data is a keep-alive, not an
    error (SillyTavern fails on it; nothing is lost by being lenient).
    """
    try:  # raw_decode skips json.loads' two whitespace scans; the hot path is `{…}` exactly
        payload, end = _raw_decode(data)
    except (ValueError, RecursionError):
        payload, end = None, -1
    if end != len(data):  # whitespace around the object, garbage, or blank
        if not data.strip():
            return EMPTY_DELTA
        payload = _load(data, "a reply chunk")
    return _to_delta(payload)


def parse_completion(body: bytes) -> Delta:
    """A whole (non-streamed) chat.completion as one Delta; same errors as `parse_chunk`."""
    return _to_delta(_load(body, "a reply"))


def parse_whole_completion(body: bytes) -> Completion:
    """A non-streamed reply and the model id the endpoint reports, when it reports one."""
    payload = _load(body, "a reply")
    model = payload.get("model") if isinstance(payload, dict) else None
    return Completion(reply=_to_delta(payload), model=model if isinstance(model, str) else None)


def model_ids(body: bytes) -> list[str]:
    """The ids of a GET /models answer, sorted; any shape but `{"data": [...]}` gives []."""
    payload = _load(body, "a model list")
    entries = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        return []
    ids = {entry.get("id") for entry in entries if isinstance(entry, dict)}
    return sorted(model for model in ids if isinstance(model, str) and model)


def provider_error(body: bytes) -> ProviderError:
    """The message of an error body: OpenAI's `error`, FastAPI's `detail`, or a bare `message`.

    Anything else (HTML, plain text) gives an empty message: raw bodies never reach a user.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if not isinstance(payload, dict):
        return ProviderError()
    error = payload.get("error")
    if isinstance(error, dict):
        code = error.get("code") or error.get("type") or ""
        return ProviderError(_words(error.get("message")), str(code)[:80])
    if isinstance(error, str):
        return ProviderError(_words(error))
    if "detail" in payload:
        return ProviderError(_words(_detail_text(payload["detail"])))
    return ProviderError(_words(payload.get("message")))


def status_error(
    status: int, said: ProviderError, *, retry_after: float | None = None
) -> EndpointRejected:
    """The error for an HTTP status other than 2xx, with what to try next.

    `insufficient_quota` is not a rate limit: waiting will not help, so it is not retried.
    """
    provider = said.message or f"HTTP {status}"
    if said.code == "insufficient_quota":
        return EndpointRejected(
            "the endpoint's quota is exhausted",
            status_code=status,
            provider_message=provider,
            hint="add credit to the account or use another key",
        )
    if status == 429:
        return EndpointRateLimited(
            "the endpoint is rate limiting us",
            provider_message=provider,
            retry_after=retry_after,
            hint="wait a moment and try again",
        )
    use_field = rejected_max_tokens_field(status, said)
    if use_field is not None:
        return MaxTokensFieldRejected(
            "the endpoint does not accept the reply-length field we sent",
            status_code=status,
            provider_message=provider,
            use_field=use_field,
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


def _to_delta(payload: Any) -> Delta:
    """The hot path: one call per token, so positional Delta() and few lookups."""
    if type(payload) is not dict:
        raise EndpointStreamError(
            "the endpoint sent a reply chunk that is not a JSON object", hint=_NOT_JSON_HINT
        )
    if payload.get("error") is not None:
        raise _in_band_error(payload)
    usage = payload.get("usage")
    usage = _usage(usage) if type(usage) is dict else None
    choices = payload.get("choices")
    if not choices or type(choices) is not list or type(choice := choices[0]) is not dict:
        return Delta("", "", None, usage) if usage else EMPTY_DELTA
    content, reasoning = _choice_text(choice)
    finish_reason = choice.get("finish_reason")
    if type(finish_reason) is not str:
        finish_reason = None
    return Delta(content, reasoning, finish_reason, usage)


def _choice_text(choice: dict[str, Any]) -> tuple[str, str]:
    """delta.content ?? message.content ?? text, and its reasoning_content ?? reasoning."""
    source = choice.get("delta")
    text = source.get("content") if type(source) is dict else None
    if text is None:
        message = choice.get("message")
        if type(message) is dict:
            source = message
            text = message.get("content")
        if text is None:
            text = choice.get("text")
    content = text if type(text) is str else _parts_text(text)
    if type(source) is not dict:
        return content, ""
    reasoning = source.get("reasoning_content") or source.get("reasoning")
    return content, reasoning if type(reasoning) is str else ""


def _parts_text(value: object) -> str:
    """A content array (`[{"type": "text", "text": …}]`) joined from its text parts."""
    if not isinstance(value, list):
        return ""
    return "".join(
        part["text"]
        for part in value
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    )


def _load(raw: str | bytes, what: str) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: `[[[[…` from a hostile server
        raise EndpointStreamError(
            f"the endpoint sent {what} that is not JSON: not an OpenAI-compatible API",
            hint=_NOT_JSON_HINT,
        ) from exc


def _usage(raw: dict[str, Any]) -> Usage:
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    return Usage(
        prompt_tokens=prompt if type(prompt) is int else None,
        completion_tokens=completion if type(completion) is int else None,
    )


def _in_band_error(payload: dict[str, Any]) -> EndpointStreamError:
    error = payload["error"]
    raw = error.get("message") if isinstance(error, dict) else error
    said = _words(raw) or "no details"
    return EndpointStreamError(
        f"the endpoint reported an error mid-reply: {said}",
        hint="try again; if it keeps happening, try another model",
    )


def _detail_text(detail: object) -> str:
    """FastAPI's `detail`: a string, or a list of validation errors with `loc` and `msg`."""
    if isinstance(detail, str):
        return detail
    items = []
    for item in detail[:5] if isinstance(detail, list) else []:
        if isinstance(item, dict) and "msg" in item:
            loc = item.get("loc")
            where = ".".join(map(str, loc)) + ": " if isinstance(loc, list) else ""
            items.append(f"{where}{item['msg']}")
    return "; ".join(items)


def _words(value: object) -> str:
    """A provider's message, whitespace collapsed and capped; non-strings give ""."""
    if not isinstance(value, str):
        return ""
    return " ".join(value.split())[:MAX_PROVIDER_MESSAGE_CHARS]
