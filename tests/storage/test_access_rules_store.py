"""Servers' /access rules on both databases: added once, removed, cleared, kept apart."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.server_access import RuleKind, ServerRules
from bot.storage.access_rules import SqlAccessRules
from bot.storage.db import create_sessions

CHANNEL, ROLE = RuleKind.CHANNEL, RuleKind.ROLE


@pytest.fixture
def rules(engine: AsyncEngine) -> SqlAccessRules:
    return SqlAccessRules(create_sessions(engine), secret_box=None)


async def test_rules_are_read_back_by_kind_and_kept_per_server_and_platform(
    rules: SqlAccessRules,
) -> None:
    assert await rules.allow("discord", "g1", CHANNEL, "100")
    assert await rules.allow("discord", "g1", CHANNEL, "101")
    assert await rules.allow("discord", "g1", ROLE, "7")
    assert await rules.allow("discord", "g2", CHANNEL, "200")
    assert await rules.allow("telegram", "g1", CHANNEL, "g1:5")

    assert await rules.rules("discord", "g1") == ServerRules(
        frozenset({"100", "101"}), frozenset({"7"})
    )
    assert await rules.rules("discord", "g2") == ServerRules(frozenset({"200"}))
    assert await rules.rules("telegram", "g1") == ServerRules(frozenset({"g1:5"}))
    assert (await rules.rules("discord", "g3")).empty


async def test_a_rule_added_twice_is_kept_once_and_says_so(rules: SqlAccessRules) -> None:
    assert await rules.allow("discord", "g1", ROLE, "7")
    assert not await rules.allow("discord", "g1", ROLE, "7")
    assert await rules.rules("discord", "g1") == ServerRules(roles=frozenset({"7"}))


async def test_removing_takes_only_that_rule_and_clearing_only_that_server(
    rules: SqlAccessRules,
) -> None:
    await rules.allow("discord", "g1", CHANNEL, "100")
    await rules.allow("discord", "g1", ROLE, "100")  # same id, other kind: a rule apart
    await rules.allow("discord", "g2", CHANNEL, "100")

    assert await rules.remove("discord", "g1", CHANNEL, "100")
    assert not await rules.remove("discord", "g1", CHANNEL, "100")
    assert await rules.rules("discord", "g1") == ServerRules(roles=frozenset({"100"}))

    assert await rules.clear("discord", "g1") == 1
    assert await rules.clear("discord", "g1") == 0
    assert (await rules.rules("discord", "g1")).empty
    assert await rules.rules("discord", "g2") == ServerRules(frozenset({"100"}))
