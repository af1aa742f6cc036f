"""How requests reach the fake Telegram server and how its errors leave: PTB's form encoding.

PTB 22 posts url-encoded forms, multipart when a file is uploaded, never JSON: a str is sent raw,
anything else JSON-encoded in the same field. Knows nothing of chats or messages.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

JsonDict = dict[str, Any]

# Fields that hold text: "123" or "true" in them stays a string.
_STRING_PARAMS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "file_id", "action", "language_code",
    "inline_message_id", "business_connection_id", "message_effect_id", "url", "document",
    "photo", "description", "short_description", "name", "secret_token",
})  # fmt: skip


class ApiError(Exception):
    """A Bot API error answer: HTTP status = error_code, Telegram's own description."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    @classmethod
    def bad_request(cls, reason: str) -> ApiError:
        return cls(400, f"Bad Request: {reason}")

    def payload(self) -> JsonDict:
        body: JsonDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass(frozen=True, slots=True)
class Upload:
    """A file part of a multipart request, before it becomes a StoredFile."""

    file_name: str
    mime_type: str
    data: bytes = field(repr=False)


async def read_params(request: web.Request) -> JsonDict:
    """Query, JSON body, url-encoded or multipart form: PTB 22 sends the last two."""
    params: JsonDict = {key: _decode(key, value) for key, value in request.query.items()}
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            params[key] = Upload(value.filename, value.content_type, value.file.read())
        else:
            params[key] = _decode(key, value if isinstance(value, str) else value.decode())
    return params


def _decode(name: str, raw: str) -> Any:
    """A form value: JSON for numbers, booleans and objects; text fields and non-JSON as is."""
    if name in _STRING_PARAMS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw  # "@channelusername" and the like
