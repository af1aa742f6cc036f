"""Personas on both databases: set, overwrite, forget, per platform and per user."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.domain import Persona
from bot.storage.db import create_sessions
from bot.storage.personas import SqlPersonas

ADA = Persona("Ada", "A mathematician who talks in riddles.\nLikes engines.")
RACERS = 6


@pytest.fixture
def personas(engine: AsyncEngine) -> SqlPersonas:
    return SqlPersonas(create_sessions(engine), secret_box=None)


async def test_set_persona_is_read_back(personas: SqlPersonas) -> None:
    """A user's persona comes back with its name and description."""
    await personas.set_persona("discord", "42", ADA)

    assert await personas.personas("discord", ["42"]) == {"42": ADA}


async def test_setting_again_overwrites(personas: SqlPersonas) -> None:
    """The newest persona wins, description included, even when it is cleared to ""."""
    await personas.set_persona("discord", "42", ADA)

    await personas.set_persona("discord", "42", Persona("Grace"))

    assert await personas.personas("discord", ["42"]) == {"42": Persona("Grace", "")}


async def test_none_forgets_the_persona(personas: SqlPersonas) -> None:
    """Forgetting leaves the user without one; forgetting again is harmless."""
    await personas.set_persona("discord", "42", ADA)

    await personas.set_persona("discord", "42", None)
    await personas.set_persona("discord", "42", None)

    assert await personas.personas("discord", ["42"]) == {}


async def test_personas_are_per_platform_and_user(personas: SqlPersonas) -> None:
    """The same id on another platform, or another user, is someone else."""
    await personas.set_persona("discord", "42", ADA)
    await personas.set_persona("telegram", "42", Persona("Tg Ada"))
    await personas.set_persona("discord", "43", Persona("Grace"))

    await personas.set_persona("telegram", "42", None)

    assert await personas.personas("telegram", ["42", "43"]) == {}
    assert await personas.personas("discord", ["42", "43"]) == {
        "42": ADA,
        "43": Persona("Grace"),
    }


async def test_only_users_with_a_persona_are_returned(personas: SqlPersonas) -> None:
    """Asking for several users gives just those who set one; repeats and unknowns are fine."""
    await personas.set_persona("discord", "1", Persona("One"))
    await personas.set_persona("discord", "3", Persona("Three"))
    await personas.set_persona("discord", "4", Persona("Four"))

    found = await personas.personas("discord", ["1", "2", "3", "1", "99"])

    assert found == {"1": Persona("One"), "3": Persona("Three")}
    assert await personas.personas("discord", []) == {}


async def test_concurrent_first_sets_all_succeed(personas: SqlPersonas) -> None:
    """Two commands of a new user at once both succeed; one of them is kept."""
    racing = [Persona(f"Name {number}") for number in range(RACERS)]

    await asyncio.gather(*(personas.set_persona("discord", "42", p) for p in racing))

    assert (await personas.personas("discord", ["42"]))["42"] in racing
