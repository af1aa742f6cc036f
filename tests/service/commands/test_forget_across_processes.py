"""/forget's confirmation across processes: two services on one database (SQLite and
PostgreSQL), as two bot processes are; a code handed out by one is confirmed by the other,
once, by its person, within its minutes by the wall clock both read."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import sql_stores
from bot.core.domain import CommandResult, Persona
from bot.service.commands.forget import EXPIRED, SOMEONE_ELSE, USED
from bot.service.confirmations import CONFIRM_SECONDS
from bot.storage.db import create_engine, create_sessions
from bot.storage.secrets import SecretBox
from tests.fakes.clock import FakeClock, FakeWallClock
from tests.fakes.openai.scripted_client import ScriptedClient
from tests.service.conftest import OPERATOR, WALL_CLOCK, Harness, build_service
from tests.storage.conftest import fresh_url, new_box, postgres_migrated_url  # noqa: F401


@pytest.fixture
def wall() -> FakeWallClock:
    return FakeWallClock(WALL_CLOCK)


@pytest.fixture
async def processes(fresh_url: str, wall: FakeWallClock) -> AsyncIterator[list[Harness]]:  # noqa: F811
    """Two services, each with its own engine on the database, sharing one key box."""
    box: SecretBox = new_box()
    client = ScriptedClient()
    engines = [create_engine(fresh_url) for _ in range(2)]
    harnesses = []
    for engine in engines:
        stores = sql_stores(create_sessions(engine), secret_box=box)
        clock = FakeClock(auto=True)
        service = build_service(stores, client, clock, default=OPERATOR, wall_clock=wall)
        harnesses.append(Harness(service, stores, client, clock))
    yield harnesses
    for engine in engines:
        await engine.dispose()


def code_of(result: CommandResult) -> str:
    assert result.confirmation is not None, result.text
    return result.confirmation.code


async def test_a_code_from_one_process_is_confirmed_by_another_once(
    processes: list[Harness],
) -> None:
    """Asked in one process, confirmed in the other; the first then hears it was used."""
    one, other = processes
    await one.stores.personas.set_persona("test", "ann", Persona("Annie", "tall"))
    asked = await one.command("forget", user="ann")

    done = await other.command("forget", user="ann", confirm=code_of(asked))
    again = await one.command("forget", user="ann", confirm=code_of(asked))

    assert done.text == "Erased your persona."
    assert again.text == USED
    assert await one.stores.personas.personas("test", ["ann"]) == {}


async def test_another_process_refuses_someone_else_without_spending_the_code(
    processes: list[Harness],
) -> None:
    one, other = processes
    asked = await one.command("forget", user="ann")

    refused = await other.command("forget", user="bob", confirm=code_of(asked))
    done = await other.command("forget", user="ann", confirm=code_of(asked))

    assert refused.text == SOMEONE_ELSE
    assert done.text.startswith("Erased")


async def test_a_code_expires_by_the_wall_clock_in_every_process(
    processes: list[Harness], wall: FakeWallClock
) -> None:
    """A second before its end a code works in the other process; at its end it says it
    expired there, and erases nothing."""
    one, other = processes
    await one.stores.personas.set_persona("test", "bob", Persona("Bobby", "short"))
    ann = await one.command("forget", user="ann")
    bob = await one.command("forget", user="bob")
    wall.advance(CONFIRM_SECONDS - 1)
    in_time = await other.command("forget", user="ann", confirm=code_of(ann))

    wall.advance(1)
    late = await other.command("forget", user="bob", confirm=code_of(bob))

    assert in_time.text.startswith("Erased")
    assert late.text == EXPIRED
    assert "bob" in await other.stores.personas.personas("test", ["bob"])
