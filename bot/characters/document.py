"""Card JSON text in, a private JSON value out: its size, encoding and shape checked.

Knows nothing of what a card contains; `schema` gives the value its meaning.
"""

from __future__ import annotations

import json
import json.scanner
import math
from collections.abc import Mapping
from typing import NoReturn

from bot.characters.errors import (
    MAX_CARD_JSON_BYTES,
    MAX_CARD_JSON_VALUES,
    CardError,
    json_too_large,
    too_many,
)
from bot.core.domain import JsonValue
from bot.core.storable import storable_text

_C_PARSE_MAX_BYTES = 256 * 1024
"""Up to this size `json.loads` runs in C, a few milliseconds. Larger JSON is parsed by the
json module's own Python scanner: about six times slower, but it lets other threads run
between values, so the event loop never waits out a whole parse (2 MB in C is 15-60 ms)."""


def load_document(raw: bytes) -> object:
    """The JSON value in `raw`, or a `CardError` saying where the JSON is broken.

    Its size and its number of values are checked first: `json.loads` runs in C without
    ever letting go of the interpreter, so its time is a stall of every other thread.
    """
    if len(raw) > MAX_CARD_JSON_BYTES:
        raise json_too_large(len(raw))
    if _values_at_most(raw) > MAX_CARD_JSON_VALUES:
        raise too_many(
            "The card's JSON",
            "values",
            MAX_CARD_JSON_VALUES,
            hint="Trim its lorebook in your card editor and export it again.",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CardError(
            "The card's JSON is not UTF-8 text. Save it as UTF-8 and try again."
        ) from exc
    try:
        return _parser(len(raw)).decode(text)
    except json.JSONDecodeError as exc:
        raise CardError(
            f"The card's JSON is broken: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc
    except RecursionError as exc:
        raise CardError("The card's JSON is nested too deeply to be a character card.") from exc


def _parser(size: int) -> json.JSONDecoder:
    decoder = json.JSONDecoder(parse_constant=_reject_constant)
    if size > _C_PARSE_MAX_BYTES:
        decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder


def _values_at_most(raw: bytes) -> int:
    """An upper bound on the values in the JSON `raw`: one, plus one per comma and opening.

    Counting every comma and bracket is a few milliseconds in C, and enough for any real
    card. Prose with many commas may look like more, so then the count is made again,
    leaving out what sits inside strings: one step per string, each in C, in a loop that
    other threads share. Each string is a value (or a key) too, so past the limit of them
    the answer is already known.
    """
    rough = 1 + _openings(raw, 0, len(raw))
    if rough <= MAX_CARD_JSON_VALUES:
        return rough
    plain = raw.replace(b"\\\\", b"").replace(b'\\"', b"")  # escapes go; quotes delimit
    strings = plain.count(b'"') // 2
    if strings > MAX_CARD_JSON_VALUES:
        return strings
    count, outside = 1, 0
    while (opening := plain.find(b'"', outside)) >= 0:
        count += _openings(plain, outside, opening)
        closing = plain.find(b'"', opening + 1)
        outside = len(plain) if closing < 0 else closing + 1
    return count + _openings(plain, outside, len(plain))


def _openings(raw: bytes, start: int, end: int) -> int:
    return raw.count(b",", start, end) + raw.count(b"[", start, end) + raw.count(b"{", start, end)


def _reject_constant(name: str) -> NoReturn:
    raise CardError(f"The card's JSON is broken: {name} is not a JSON value.")


def copy_json(value: object) -> JsonValue:
    """A deep copy that is JSON-shaped all the way down, so that nothing outside shares it.

    Lone surrogates (legal as `\\udXXX` escapes in JSON) become U+FFFD: they cannot be
    encoded as UTF-8, so storage and export would fail on them later. NUL characters
    (`\\u0000`) are dropped: PostgreSQL text and JSONB cannot hold them, and no card
    editor means anything by one.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise CardError("The card contains a number that is not finite.")
        return value
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        copied: dict[str, JsonValue] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise CardError("The card contains an object whose keys are not all text.")
            copied[storable_text(key)] = copy_json(item)
        return copied
    if isinstance(value, list | tuple):
        return [copy_json(item) for item in value]
    raise CardError("The card contains a value that JSON cannot hold.")
