"""The OpenAI chat-completions wire format: request bodies out; deltas and model ids in.

Wire dicts are born and die here; knows nothing of sockets, SSE framing or timeouts.
Refusals (error bodies, statuses, backend quirks) are read in refusals.py.
"""

from __future__ import annotations

import json
from typing import Any

from bot.core.domain import (
    ChatMessage,
    Completion,
    CompletionRequest,
    ContentPart,
    Delta,
    JsonValue,
    Usage,
)
from bot.core.errors import (
    EndpointStreamError,
)
from bot.core.untrusted import safe_to_show
from bot.llm.quirks import MAX_TOKENS, empty_stream_error
from bot.llm.refusals import NOT_JSON_HINT, in_band_error, ok_body_error

DONE = "[DONE]"
"""The data of the event that ends an OpenAI stream."""

EMPTY_DELTA = Delta()
_raw_decode = json.JSONDecoder().raw_decode


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


def _wire_message(message: ChatMessage) -> dict[str, JsonValue]:
    """One message as OpenAI reads it; tool calls and their ids go out as given.

    Only a message with media is sent as a content array: many servers accept nothing but
    a string, and a message without media has its whole text in `content`.
    """
    item: dict[str, JsonValue] = {"role": message.role.value, "content": message.content}
    if message.media:
        item["content"] = [_wire_part(part) for part in message.parts]
    if message.name:
        item["name"] = message.name
    if message.tool_calls:
        item["tool_calls"] = [dict(call) for call in message.tool_calls]
    if message.tool_call_id is not None:
        item["tool_call_id"] = message.tool_call_id
    return item


def _wire_part(part: ContentPart) -> JsonValue:
    if isinstance(part, str):
        return {"type": "text", "text": part}
    media: dict[str, JsonValue] = {"url": part.url}
    if part.detail is not None:
        media["detail"] = part.detail
    return {"type": part.kind, part.kind: media}


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
            raise empty_stream_error()
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


def parse_completion(body: bytes) -> Completion:
    """A non-streamed reply and the model id the endpoint reports, when it reports one.

    Raises as `parse_chunk` does for an error payload or a body that is not JSON.
    """
    payload = _load(body, "a reply")
    model = payload.get("model") if isinstance(payload, dict) else None
    shown = safe_to_show(model) if isinstance(model, str) else None  # /test shows it
    return Completion(reply=_to_delta(payload), model=shown)


def model_ids(body: bytes) -> list[str]:
    """The ids of a GET /models answer, sorted; any shape but `{"data": [...]}` gives [].

    A 200 answer that carries an `error` is a failure, not an empty list (LM Studio answers
    a path it does not serve that way), so the /v1 probe goes on to the next candidate.
    """
    payload = _load(body, "a model list")
    if isinstance(payload, dict) and payload.get("error") is not None:
        raise ok_body_error(payload, during="instead of a model list")
    entries = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(entries, list):
        return []
    ids = {entry.get("id") for entry in entries if isinstance(entry, dict)}
    # An id with controls in it could be neither shown truthfully nor typed: left out.
    return sorted(m for m in ids if isinstance(m, str) and m and safe_to_show(m) == m)


def _to_delta(payload: Any) -> Delta:
    """The hot path: one call per token, so positional Delta() and few lookups."""
    if type(payload) is not dict:
        raise EndpointStreamError(
            "the endpoint sent a reply chunk that is not a JSON object", hint=NOT_JSON_HINT
        )
    if payload.get("error") is not None:
        raise in_band_error(payload)
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
            hint=NOT_JSON_HINT,
        ) from exc


def _usage(raw: dict[str, Any]) -> Usage:
    prompt, completion = raw.get("prompt_tokens"), raw.get("completion_tokens")
    return Usage(
        prompt_tokens=prompt if type(prompt) is int else None,
        completion_tokens=completion if type(completion) is int else None,
    )
