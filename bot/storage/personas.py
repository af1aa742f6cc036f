"""Personas: who each user is in the story, per platform."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.domain import Persona
from bot.storage.tables import PersonaRow
from bot.storage.transactions import Transactions, translating


class SqlPersonas(Transactions):
    """Implements the `Personas` port."""

    async def personas(self, platform: str, user_ids: Sequence[str]) -> dict[str, Persona]:
        if not user_ids:
            return {}
        query = select(PersonaRow).where(
            PersonaRow.platform == platform, PersonaRow.user_id.in_(set(user_ids))
        )
        with translating("read personas"):
            async with self.reading() as session:
                rows = (await session.scalars(query)).all()
        return {row.user_id: Persona(row.name, row.description) for row in rows}

    async def set_persona(self, platform: str, user_id: str, persona: Persona | None) -> None:
        with translating("save the persona"):
            async with self.writing() as session:
                if persona is None:
                    forget = (
                        delete(PersonaRow)
                        .where(*_of(platform, user_id))
                        .execution_options(synchronize_session=False)
                    )
                    await session.execute(forget)
                    return
                row = await _locked(session, platform, user_id)
                if row is None:
                    row = await _added(session, platform, user_id, persona)
                row.name, row.description = persona.name, persona.description


def _of(platform: str, user_id: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return PersonaRow.platform == platform, PersonaRow.user_id == user_id


async def _locked(session: AsyncSession, platform: str, user_id: str) -> PersonaRow | None:
    return await session.scalar(select(PersonaRow).where(*_of(platform, user_id)).with_for_update())


async def _added(
    session: AsyncSession, platform: str, user_id: str, persona: Persona
) -> PersonaRow:
    """A new row for the user; when a concurrent command inserted it first, that one.

    The insert runs in a savepoint: on PostgreSQL the loser's unique violation would
    otherwise abort the whole transaction.
    """
    try:
        async with session.begin_nested():
            row = PersonaRow(platform=platform, user_id=user_id, name=persona.name)
            session.add(row)
            await session.flush()
    except IntegrityError:
        found = await _locked(session, platform, user_id)
        if found is None:
            raise
        return found
    return row
