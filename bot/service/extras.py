"""Reading /extras options: JSON merged into requests, extra headers, keys to drop.

JSON errors name where the text broke, never echo it: headers may hold credentials.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import cast

from bot.commands import parse_boolean
from bot.domain import EndpointOptions, JsonValue
from bot.errors import UsageError


def apply_extras(current: EndpointOptions, given: Mapping[str, str]) -> EndpointOptions:
    """The connection's options after an /extras call; UsageError leaves nothing changed."""
    options = EndpointOptions(
        bypass_models_check=current.bypass_models_check,
        max_tokens_field=current.max_tokens_field,
    ) if parse_boolean("reset", given.get("reset", "no")) else current  # fmt: skip
    if "body" in given:
        body = _json_object("body", given["body"])
        options = dataclasses.replace(options, extra_body=body)
    if "headers" in given:
        headers = _json_object("headers", given["headers"])
        if not all(isinstance(v, str) for v in headers.values()):
            raise UsageError("Every header value must be a string. Nothing was changed.")
        options = dataclasses.replace(
            options, extra_headers={k: str(v) for k, v in headers.items()}
        )
    if "exclude" in given:
        keys = tuple(k.strip() for k in given["exclude"].split(",") if k.strip())
        options = dataclasses.replace(options, exclude_keys=keys)
    return options


def _json_object(name: str, raw: str) -> dict[str, JsonValue]:
    """A JSON object, or UsageError saying where it broke (never echoing the text)."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{name} is not valid JSON ({exc.msg} at character {exc.pos}). Nothing was changed."
        ) from None
    if not isinstance(value, dict):
        raise UsageError(f'{name} must be a JSON object like {{"key": value}}.')
    return cast("dict[str, JsonValue]", value)
