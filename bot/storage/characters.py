"""Character libraries: cards per server or chat, and which channels use them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.characters.card import CharacterCard
from bot.characters.schema import card_from_json
from bot.characters.stored import StoredCharacter
from bot.core.errors import StorageError, UsageError
from bot.storage.tables import ChannelRow, CharacterRow
from bot.storage.transactions import Transactions, translating


class SqlCharacters(Transactions):
    """Implements the `Characters` port; the card JSON is stored as the parser normalised it."""

    async def save_character(
        self, scope: str, card: CharacterCard, avatar: bytes | None
    ) -> StoredCharacter:
        with translating("save the character"):
            async with self.writing() as session:
                row = await _named(session, scope, card.name)
                if row is None:
                    row = await _added(session, scope, card.name)
                row.name, row.card, row.avatar = card.name, dict(card.data), avatar
                await session.flush()
                return StoredCharacter(row.id, card, avatar)

    async def list_characters(self, scope: str) -> list[StoredCharacter]:
        query = (
            select(CharacterRow)
            .where(CharacterRow.scope == scope)
            .order_by(func.lower(CharacterRow.name))
        )
        with translating("list the characters"):
            async with self.reading() as session:
                rows = (await session.scalars(query)).all()
        return [_stored(row) for row in rows]

    async def find_character(self, scope: str, name: str) -> StoredCharacter | None:
        with translating("find the character"):
            async with self.reading() as session:
                row = await _named(session, scope, name)
        return None if row is None else _stored(row)

    async def character(self, character_id: int) -> StoredCharacter | None:
        with translating("load the character"):
            async with self.reading() as session:
                row = await session.get(CharacterRow, character_id)
        return None if row is None else _stored(row)

    async def remove_character(self, scope: str, name: str) -> int | None:
        with translating("remove the character"):
            async with self.writing() as session:
                row = await _named(session, scope, name)
                if row is None:
                    return None
                using = list(
                    await session.scalars(
                        select(ChannelRow).where(ChannelRow.character_id == row.id)
                    )
                )
                for channel in using:
                    channel.character_id = None
                await session.delete(row)
                return len(using)


async def _named(session: AsyncSession, scope: str, name: str) -> CharacterRow | None:
    """Names match case-insensitively: people type them by hand."""
    query = select(CharacterRow).where(
        CharacterRow.scope == scope, func.lower(CharacterRow.name) == name.strip().lower()
    )
    return await session.scalar(query)


async def _added(session: AsyncSession, scope: str, name: str) -> CharacterRow:
    """A new row for the name; when a concurrent save inserted it first, that one.

    The insert runs in a savepoint: on PostgreSQL the loser's unique violation would
    otherwise abort the whole transaction.
    """
    try:
        async with session.begin_nested():
            row = CharacterRow(scope=scope, name=name, card={}, avatar=None)
            session.add(row)
            await session.flush()
    except IntegrityError:
        found = await _named(session, scope, name)
        if found is None:
            raise
        return found
    return row


def _stored(row: CharacterRow) -> StoredCharacter:
    try:
        card = card_from_json(row.card)
    except UsageError as exc:
        raise StorageError(f"the stored character {row.name!r} can no longer be read") from exc
    return StoredCharacter(row.id, card, row.avatar)
