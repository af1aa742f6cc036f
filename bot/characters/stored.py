"""A character as a library keeps it: the card, its id, and its picture."""

from __future__ import annotations

from dataclasses import dataclass

from bot.characters.card import CharacterCard


@dataclass(frozen=True, slots=True)
class StoredCharacter:
    """A card in a server's or chat's library; channels refer to it by `id`."""

    id: int
    card: CharacterCard
    avatar: bytes | None = None

    @property
    def name(self) -> str:
        return self.card.name

    def __repr__(self) -> str:
        avatar = "no avatar" if self.avatar is None else f"avatar {len(self.avatar)} bytes"
        return f"StoredCharacter({self.id}, {self.name!r}, {avatar})"
