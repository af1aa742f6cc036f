"""The character card as the rest of the bot sees it: typed fields over the card's whole JSON.

Knows no file format; `data` is the normalised V2/V3 JSON object that storage keeps and
export writes, so nothing a card editor put there is lost on the way through the bot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from bot.core.domain import JsonValue

SPEC_V2 = "chara_card_v2"
SPEC_V3 = "chara_card_v3"


def default_extensions() -> dict[str, JsonValue]:
    """The extension values SillyTavern fills in when a card lacks them."""
    return {"talkativeness": 0.5, "fav": False}


@dataclass(frozen=True, slots=True)
class CharacterCard:
    """A card's prompt-relevant fields, plus the whole card they were read from.

    The typed fields are views of `data["data"]`. Build a card from JSON with
    `card_from_json`, which normalises; a card built here with no `data` gets the
    V2 object (V3 when it has a nickname) that `card_from_json` would have made.
    Do not mutate `data`: the card is a value.
    """

    name: str
    description: str = ""
    personality: str = ""
    scenario: str = ""
    first_mes: str = ""
    mes_example: str = ""
    system_prompt: str = ""
    post_history_instructions: str = ""
    creator_notes: str = ""
    alternate_greetings: tuple[str, ...] = ()
    nickname: str | None = None
    data: Mapping[str, JsonValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.data:
            object.__setattr__(self, "data", _document_of(self))

    @property
    def char_name(self) -> str:
        """What `{{char}}` becomes: the V3 nickname when there is one, else the name.

        ST 1.18 ignores the nickname; the V3 spec asks for it, and we follow the spec.
        """
        return self.nickname or self.name

    @property
    def greetings(self) -> tuple[str, ...]:
        """The opening message and its alternates (swipes), empty ones left out."""
        return tuple(g for g in (self.first_mes, *self.alternate_greetings) if g)


@dataclass(frozen=True, slots=True)
class ImportedCard:
    """A card read from a file, the image to show for it, and what the user should know.

    `avatar` is a PNG card's image without its card chunks, or a CHARX card's icon
    (any image type); None when the file had no image. `warnings` are sentences for
    the user about things that were read anyway (a newer spec version, a damaged
    chunk that had a fallback).
    """

    card: CharacterCard
    avatar: bytes | None
    warnings: tuple[str, ...] = ()


def _document_of(card: CharacterCard) -> dict[str, JsonValue]:
    inner: dict[str, JsonValue] = {
        "name": card.name,
        "description": card.description,
        "personality": card.personality,
        "scenario": card.scenario,
        "first_mes": card.first_mes,
        "mes_example": card.mes_example,
        "creator_notes": card.creator_notes,
        "system_prompt": card.system_prompt,
        "post_history_instructions": card.post_history_instructions,
        "alternate_greetings": list(card.alternate_greetings),
        "tags": [],
        "creator": "",
        "character_version": "",
        "extensions": default_extensions(),
    }
    if card.nickname is None:
        return {"spec": SPEC_V2, "spec_version": "2.0", "data": inner}
    inner["nickname"] = card.nickname
    inner["group_only_greetings"] = []
    return {"spec": SPEC_V3, "spec_version": "3.0", "data": inner}
