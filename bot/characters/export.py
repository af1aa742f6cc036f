"""Writing a card back out as V2 or V3 JSON, or inside a PNG, the way SillyTavern does.

Writes `card.data` as it is, so every field and extension a card editor put there
survives; only the spec label, the V1 mirrors and the V3 defaults are added.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from bot.characters.card import SPEC_V2, SPEC_V3, CharacterCard
from bot.characters.png import placeholder_png, write_card_chunks
from bot.characters.schema import V1_FIELDS
from bot.core.domain import JsonValue

_OWN_KEYS = ("spec", "spec_version", "data")


def card_to_json(card: CharacterCard, *, version: int = 2) -> bytes:
    """The card as a UTF-8 JSON file for people and card editors: indented, not escaped."""
    return json.dumps(to_document(card, version=version), ensure_ascii=False, indent=2).encode()


def card_to_png(card: CharacterCard, image: bytes | None) -> bytes:
    """`image` (or a grey placeholder) carrying the card as `chara` (V2) and `ccv3` (V3).

    Both chunks, because V2-only readers look for `chara` and V3 readers prefer `ccv3`.
    A V2 card therefore comes back from its PNG as the V3 form of itself. Raises
    `CardError` when `image` is not a valid PNG: other image types need converting first.
    """
    return write_card_chunks(
        placeholder_png() if image is None else image,
        chara=_base64_json(to_document(card, version=2)),
        ccv3=_base64_json(to_document(card, version=3)),
    )


def to_document(card: CharacterCard, *, version: int) -> dict[str, JsonValue]:
    """The card's JSON object as a V2 or V3 card.

    V2 repeats the V1 fields at the top level, as SillyTavern writes them, for V1 readers.
    V3 keeps the card's own spec_version when it already was V3 (a newer one would
    otherwise be relabelled 3.0), and adds the `group_only_greetings` V3 requires.
    """
    if version not in (2, 3):
        raise ValueError(f"no card spec version {version}; use 2 or 3")
    inner = dict(_mapping(card.data.get("data")))
    rest = {key: value for key, value in card.data.items() if key not in _OWN_KEYS}
    if version == 2:
        mirrors = {field: inner.get(field, "") for field in V1_FIELDS}
        return {"spec": SPEC_V2, "spec_version": "2.0", **mirrors, **rest, "data": inner}
    inner.setdefault("group_only_greetings", [])
    spec_version = card.data.get("spec_version")
    if card.data.get("spec") != SPEC_V3 or not isinstance(spec_version, str):
        spec_version = "3.0"
    return {"spec": SPEC_V3, "spec_version": spec_version, **rest, "data": inner}


def _mapping(value: JsonValue | None) -> Mapping[str, JsonValue]:
    return value if isinstance(value, dict) else {}


def _base64_json(document: dict[str, JsonValue]) -> str:
    # Compact, unlike the JSON file: it is read by programs, and it sits in every copy of the image.
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return base64.b64encode(text.encode()).decode("ascii")
