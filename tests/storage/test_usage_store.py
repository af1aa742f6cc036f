"""Usage rows on both databases: totals per user and model, by person or server, in a window."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.domain import (
    MessageStatus,
    TokenSource,
    TokenTally,
    UsageEntry,
    UsageGroup,
    UsageTotals,
)
from bot.storage.db import create_sessions
from bot.storage.usage import SqlUsage

NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
ENTRY = UsageEntry(
    created_at=NOON,
    platform="discord",
    user_id="ann",
    server="guild-1",
    channel="general",
    model="m1",
    endpoint_host="api.example:8443",
    trusted=True,
    prompt_tokens=TokenTally(100, TokenSource.ENDPOINT),
    completion_tokens=TokenTally(20, TokenSource.ENDPOINT),
    duration_seconds=1.5,
    status=MessageStatus.COMPLETE,
)


def entry(**changes: object) -> UsageEntry:
    return dataclasses.replace(ENTRY, **changes)  # type: ignore[arg-type]


@pytest.fixture
def usage(engine: AsyncEngine) -> SqlUsage:
    return SqlUsage(create_sessions(engine), secret_box=None)


async def test_a_users_turns_are_summed_per_model(usage: SqlUsage) -> None:
    """Two turns with one model make one group; another model is a group of its own."""
    await usage.record(ENTRY)
    await usage.record(entry(prompt_tokens=TokenTally(50, TokenSource.ENDPOINT)))
    await usage.record(entry(model="m2", completion_tokens=TokenTally(7, TokenSource.ESTIMATED)))

    groups = await usage.totals("discord", since=NOON - DAY, until=NOON + DAY, user_id="ann")

    assert groups == [
        UsageGroup("ann", "m1", UsageTotals(2, 150, 40, 0)),
        UsageGroup("ann", "m2", UsageTotals(1, 100, 7, 1)),
    ]


async def test_the_window_includes_its_start_and_excludes_its_end(usage: SqlUsage) -> None:
    """A turn at the very start of a window counts in it; one at its end counts in the next."""
    await usage.record(entry(created_at=NOON))
    await usage.record(entry(created_at=NOON + DAY))
    await usage.record(entry(created_at=NOON - timedelta(microseconds=1)))

    groups = await usage.totals("discord", since=NOON, until=NOON + DAY, user_id="ann")

    assert [group.totals.turns for group in groups] == [1]


async def test_a_server_sees_its_turns_and_not_dms_or_other_servers(usage: SqlUsage) -> None:
    """Server totals hold every member's turns there, none from a DM or another server."""
    await usage.record(ENTRY)
    await usage.record(entry(user_id="bob"))
    await usage.record(entry(server=None, channel="dm-ann"))
    await usage.record(entry(server="guild-2"))

    in_server = await usage.totals("discord", since=NOON, until=NOON + DAY, server="guild-1")
    mine = await usage.totals("discord", since=NOON, until=NOON + DAY, user_id="ann")

    assert [(g.user_id, g.totals.turns) for g in in_server] == [("ann", 1), ("bob", 1)]
    assert [g.totals.turns for g in mine] == [3]


async def test_platforms_keep_their_ids_apart(usage: SqlUsage) -> None:
    """The same user id on another platform is another person."""
    await usage.record(ENTRY)
    await usage.record(entry(platform="telegram"))

    groups = await usage.totals("telegram", since=NOON, until=NOON + DAY, user_id="ann")

    assert [g.totals.turns for g in groups] == [1]


async def test_no_turns_is_no_groups(usage: SqlUsage) -> None:
    """An empty window totals to an empty list, not a row of zeros."""
    assert await usage.totals("discord", since=NOON, until=NOON + DAY, user_id="ann") == []


async def test_a_model_name_with_a_nul_is_kept(usage: SqlUsage) -> None:
    """Chat admins type model names: one PostgreSQL would refuse is stored cleaned, not lost."""
    await usage.record(entry(model="m\x00odel"))

    groups = await usage.totals("discord", since=NOON, until=NOON + DAY, user_id="ann")

    assert [(g.model, g.totals.turns) for g in groups] == [("model", 1)]
