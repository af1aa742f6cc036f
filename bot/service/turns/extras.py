"""Reading /extras options: JSON merged into requests, extra headers, keys to drop.

Only what every request can carry is accepted: finite numbers, bounded JSON, headers per
RFC 9110 that are not the connection's own framing. The same rules check extras stored
before they existed, so a turn names /extras instead of failing obscurely. Errors name
where the text broke, never echo it: headers may hold credentials.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections.abc import Mapping
from typing import cast

from bot.core.commands import parse_boolean
from bot.core.domain import EndpointOptions, JsonValue
from bot.core.errors import UsageError
from bot.core.untrusted import safe_to_show

MAX_EXTRAS_CHARS = 20_000
MAX_JSON_DEPTH = 16
MAX_HEADERS = 32
UNCHANGED = "Nothing was changed."

# RFC 9110 §5.6.2: a field name is a token of these characters.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 9110 §5.5: visible characters, with spaces and tabs between them. obs-text (bytes
# 0x80-0xFF) is refused too: the RFC keeps it for old messages only, httpx sends str
# headers as ASCII, and a non-ASCII character has no single byte form a server agrees on.
_FIELD_VALUE = re.compile(r"(?:[\x21-\x7e](?:[\x20\x21-\x7e\t]*[\x21-\x7e])?)?")
# Framing and hop-by-hop headers (RFC 9110 §7.6.1, §11.7; RFC 9112 §6): the HTTP client
# sets them for each connection, and a second value breaks or smuggles the request; the
# Proxy- ones are for a proxy on the way (an operator's, say), never for the endpoint.
CONNECTION_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "expect",
        "host",
        "http2-settings",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


class _Refused(ValueError):
    """One rule broken, as a clause that reads on its own or after "/extras can't be sent:"."""


def apply_extras(current: EndpointOptions, given: Mapping[str, str]) -> EndpointOptions:
    """The connection's options after an /extras call; UsageError leaves nothing changed."""
    options = EndpointOptions(
        bypass_models_check=current.bypass_models_check,
        max_tokens_field=current.max_tokens_field,
    ) if parse_boolean("reset", given.get("reset", "no")) else current  # fmt: skip
    try:
        if "body" in given:
            body = _json_object("the body", given["body"])
            options = dataclasses.replace(options, extra_body=_checked_body(body))
        if "headers" in given:
            headers = _json_object("the header list", given["headers"])
            options = dataclasses.replace(options, extra_headers=_checked_headers(headers))
    except _Refused as exc:
        reason = str(exc)
        raise UsageError(f"{reason[:1].upper()}{reason[1:]} {UNCHANGED}") from None
    if "exclude" in given:
        keys = tuple(k.strip() for k in given["exclude"].split(",") if k.strip())
        options = dataclasses.replace(options, exclude_keys=keys)
    return options


def check_stored_extras(options: EndpointOptions) -> None:
    """UsageError naming /extras when stored extras could not go out with any request.

    Extras stored before these rules existed may break them; every request would then
    fail, so a turn (or /test, /models) says what to fix rather than sending anything.
    """
    try:
        _checked_body(options.extra_body)
        _checked_headers(dict(options.extra_headers))
    except _Refused as exc:
        raise UsageError(
            f"This channel's /extras can't be sent: {exc} Set them again with /extras, or "
            "clear them with /extras reset:yes."
        ) from None


def _json_object(name: str, raw: str) -> dict[str, JsonValue]:
    """A JSON object with finite numbers only; _Refused says where it broke, never echoing."""
    if not raw.strip():
        return {}
    if len(raw) > MAX_EXTRAS_CHARS:
        raise _Refused(f"{name} is {len(raw)} characters; at most {MAX_EXTRAS_CHARS} are accepted.")
    try:
        # Python reads NaN, Infinity and 1e999 by default; no endpoint's JSON parser does.
        value = json.loads(raw, parse_constant=_not_finite, parse_float=_finite)
    except json.JSONDecodeError as exc:
        raise _Refused(f"{name} is not valid JSON ({exc.msg} at character {exc.pos}).") from None
    except RecursionError:
        raise _Refused(_too_deep(name)) from None
    except _Refused as exc:
        raise _Refused(f"{name} {exc}") from None
    except ValueError:  # Python converts integers of at most 4300 digits
        raise _Refused(f"{name} has a number with too many digits.") from None
    if not isinstance(value, dict):
        raise _Refused(f'{name} must be a JSON object like {{"key": value}}.')
    return cast("dict[str, JsonValue]", value)


def _not_finite(constant: str) -> float:
    raise _Refused(f"has {constant}, but only finite numbers can be sent.")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _Refused("has a number too large to be finite (over 1.8e308).")
    return number


def _checked_body(body: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
    """`body` if every number in it is finite, its depth bounded and its text encodable."""
    stack: list[tuple[JsonValue, int]] = [(dict(body), 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise _Refused(_too_deep("the body"))
        if isinstance(value, float) and not math.isfinite(value):
            raise _Refused("the body has a number that is not finite (NaN or infinity).")
        if isinstance(value, str):
            _encodable(value)
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, dict):
            for key, item in value.items():
                _encodable(key)
                stack.append((item, depth + 1))
    return dict(body)


def _encodable(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise _Refused(
            "the body has text with a lone surrogate (like \\ud800), which can't be sent as UTF-8."
        ) from None


def _too_deep(name: str) -> str:
    return f"{name} is nested too deeply; at most {MAX_JSON_DEPTH} levels are accepted."


def _checked_headers(headers: Mapping[str, JsonValue]) -> dict[str, str]:
    """Headers per RFC 9110, none of the connection's own, no name twice; values trimmed."""
    if len(headers) > MAX_HEADERS:
        raise _Refused(f"there are {len(headers)} headers; at most {MAX_HEADERS} are accepted.")
    checked: dict[str, str] = {}
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise _Refused(
                f"{safe_to_show(name)[:40]!r} is not a valid header name: use letters, digits "
                "and !#$%&'*+-.^_`|~ only, with no spaces or colons."
            )
        if name.lower() in CONNECTION_HEADERS:
            raise _Refused(f"the header {name} is the connection's own, not one /extras can set.")
        if any(name.lower() == other.lower() for other in checked):
            raise _Refused(f"the header {name} is given twice (header names ignore case).")
        if not isinstance(value, str):
            raise _Refused(f"the header {name} must have a string value.")
        checked[name] = _field_value(name, value.strip(" \t"))
    return checked


def _field_value(name: str, value: str) -> str:
    """`value` if it is a valid field value; the refusal says where it broke, never what."""
    if _FIELD_VALUE.fullmatch(value):
        return value
    at, char = next((i, c) for i, c in enumerate(value) if not (c == "\t" or " " <= c <= "~"))
    if char.isascii():
        kind = "a line break" if char in "\r\n" else "a control character"
        rule = "a value is one line of visible text"
    else:
        kind, rule = "a character outside ASCII", "header values are plain ASCII only"
    raise _Refused(f"the header {name}'s value has {kind} at character {at + 1}: {rule}.")
