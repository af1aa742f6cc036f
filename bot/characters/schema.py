"""Card JSON of any generation (V1, V2, V3, legacy gradio) made into one normalised V2/V3 object.

Knows JSON shapes, not files. Follows SillyTavern's import normalisation (`data.*` wins over
the V1 mirrors at the top level) and keeps every field it does not understand exactly as it
came, at the level it came.
"""

from __future__ import annotations

import math
from typing import NoReturn

from bot.characters.card import SPEC_V2, SPEC_V3, CharacterCard, default_extensions
from bot.characters.document import copy_json
from bot.characters.errors import MAX_NAME_CHARS, CardError
from bot.core.domain import JsonValue
from bot.core.untrusted import safe_to_show

V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
"""The fields V1 had at the top level, which V2 writers still mirror there."""
_V2_TEXTS = (
    "creator_notes",
    "system_prompt",
    "post_history_instructions",
    "creator",
    "character_version",
)
_LEGACY_FIELDS = {
    "char_name": "name",
    "char_persona": "description",
    "char_greeting": "first_mes",
    "world_scenario": "scenario",
    "example_dialogue": "mes_example",
}
_NEWEST_SPEC_VERSION = 3.0
_FIX_IT = "Fix it in a card editor and import the card again."

JsonObject = dict[str, JsonValue]


def card_from_json(obj: object) -> CharacterCard:
    """The card an already-decoded JSON object describes; `card.data` gives it back equal."""
    return read_document(obj)[0]


def read_document(obj: object) -> tuple[CharacterCard, tuple[str, ...]]:
    """The normalised card, and sentences for the user about what was read anyway.

    `data.*` wins over the top-level V1 mirrors, which are then dropped (export writes
    them afresh); V1 and legacy cards become V2. The input is copied, never changed.
    """
    try:
        doc = copy_json(obj)
    except RecursionError as exc:
        raise CardError("The card's JSON is nested too deeply to be a character card.") from exc
    if not isinstance(doc, dict):
        raise CardError("The file's JSON is a list or a value, not a character card.")
    warnings: list[str] = []
    if "spec" in doc:
        spec, version, inner = _unwrap(doc, warnings)
    elif "name" in doc or "char_name" in doc:
        spec, version, inner = SPEC_V2, "2.0", {}
        for legacy, field in _LEGACY_FIELDS.items():
            if legacy in doc and doc.get(field) is None:
                doc[field] = doc.pop(legacy)
    else:
        raise CardError(
            "This JSON is not a character card: it has no spec, name or char_name field."
        )
    for field in V1_FIELDS:  # the mirror fills in only what `data` lacks, then goes
        mirror = doc.pop(field, None)
        if inner.get(field) is None and mirror is not None:
            inner[field] = mirror
    _normalise(inner, v3=spec == SPEC_V3)
    rest = {key: value for key, value in doc.items() if key not in ("spec", "spec_version", "data")}
    document: JsonObject = {"spec": spec, "spec_version": version, **rest, "data": inner}
    return _card(inner, document), tuple(warnings)


def _unwrap(doc: JsonObject, warnings: list[str]) -> tuple[str, str, JsonObject]:
    """The spec, its version and the `data` object of a card that names its spec."""
    spec = doc["spec"]
    if isinstance(spec, str) and spec.startswith("lorebook"):
        raise CardError("This file is a lorebook (world info), not a character card.")
    inner = doc.get("data")
    if inner is None:  # some writers put a spec on a card that is V1 otherwise
        inner = {}
    if not isinstance(inner, dict):
        _wrong_type("data", "an object", inner)
    if spec == SPEC_V3:
        return SPEC_V3, _v3_version(doc.get("spec_version"), warnings), inner
    version = doc.get("spec_version")
    if spec != SPEC_V2:
        shown = spec if isinstance(spec, str) else _kind(spec)
        warnings.append(f"The card names an unknown format ({shown[:40]}); it was read as V2.")
        version = None
    return SPEC_V2, version if isinstance(version, str) else "2.0", inner


def _v3_version(value: JsonValue, warnings: list[str]) -> str:
    """The spec version as text; a newer one than we know imports with a warning (V3 spec)."""
    if value is None:
        return "3.0"
    text = value if isinstance(value, str) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        text = str(float(value))
    try:
        number = float(text) if text is not None else math.nan
    except ValueError:
        number = math.nan
    if text is None or math.isnan(number):
        warnings.append("The card's spec_version is not a number; it was read as 3.0.")
        return "3.0"
    if number > _NEWEST_SPEC_VERSION:
        warnings.append(
            f"The card is written for spec version {text[:20]}, newer than the 3.0 this bot "
            "knows. It was imported; fields it does not know are kept but not used."
        )
    return text


def _normalise(inner: JsonObject, *, v3: bool) -> None:
    """Check the types and fill in SillyTavern's defaults, in place."""
    # A name is shown to people and terminals: no escapes, controls or bidi overrides.
    name = safe_to_show(_text(inner, "name")).strip()
    if not name:
        raise CardError("The card has no name. Give the character a name and import it again.")
    if len(name) > MAX_NAME_CHARS:
        raise CardError(
            f"The card's name is {len(name)} characters long; the limit is {MAX_NAME_CHARS}. "
            "Shorten it in a card editor and import the card again."
        )
    inner["name"] = name
    for field in (*V1_FIELDS[1:], *_V2_TEXTS):
        inner[field] = _text(inner, field)
    inner["tags"] = _texts(inner, "tags", split_commas=True)
    inner["alternate_greetings"] = _texts(inner, "alternate_greetings")
    if v3:
        inner["group_only_greetings"] = _texts(inner, "group_only_greetings")
    extensions = inner.get("extensions")
    if extensions is None:
        extensions = {}
    if not isinstance(extensions, dict):
        _wrong_type("extensions", "an object", extensions)
    inner["extensions"] = default_extensions() | extensions
    nickname = _nickname(inner)
    if nickname is not None:
        inner["nickname"] = safe_to_show(nickname)


def _card(inner: JsonObject, document: JsonObject) -> CharacterCard:
    """The typed view of a normalised `data` object."""
    greetings = _texts(inner, "alternate_greetings")
    return CharacterCard(
        name=_text(inner, "name"),
        description=_text(inner, "description"),
        personality=_text(inner, "personality"),
        scenario=_text(inner, "scenario"),
        first_mes=_text(inner, "first_mes"),
        mes_example=_text(inner, "mes_example"),
        system_prompt=_text(inner, "system_prompt"),
        post_history_instructions=_text(inner, "post_history_instructions"),
        creator_notes=_text(inner, "creator_notes"),
        alternate_greetings=tuple(g for g in greetings if isinstance(g, str)),
        nickname=_nickname(inner),
        data=document,
    )


def _nickname(inner: JsonObject) -> str | None:
    """V3's nickname, honoured on any card: a V3 card exported as V2 keeps it there."""
    nickname = inner.get("nickname")
    if nickname is not None and not isinstance(nickname, str):
        _wrong_type("nickname", "text", nickname)
    return nickname


def _text(inner: JsonObject, field: str) -> str:
    """A text field; missing or null is "" (the V1 spec), any other type is the card's fault."""
    value = inner.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        _wrong_type(field, "text", value)
    return value


def _texts(inner: JsonObject, field: str, *, split_commas: bool = False) -> list[JsonValue]:
    """A list of texts; a lone text becomes a list as SillyTavern does (tags split at commas)."""
    value = inner.get(field)
    if value is None:
        return []
    if isinstance(value, str):
        if split_commas:
            return [tag for part in value.split(",") if (tag := part.strip())]
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        _wrong_type(field, "a list of texts", value)
    return value


def _wrong_type(field: str, expected: str, value: JsonValue) -> NoReturn:
    raise CardError(
        f'The card\'s "{field}" field should be {expected}, not {_kind(value)}. {_FIX_IT}'
    )


def _kind(value: JsonValue) -> str:
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else "null"
