"""/access: who may set rules, what values it reads, what it answers, and how soon the
service's remembered rules follow a change made here or by another process."""

from __future__ import annotations

import dataclasses

import pytest

from bot.app import Stores
from bot.core.domain import Actor, ChannelKey, CommandCall, Permission
from bot.core.errors import StorageError
from bot.core.ports import NoAccessRules
from bot.core.server_access import RuleKind, ServerRules
from bot.service.server_access import FRESH_SECONDS
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import ScriptedClient
from tests.service.conftest import OPERATOR, Harness, build_service

SERVER = "guild-1"
GENERAL = ChannelKey("discord", "100")
THREAD = ChannelKey("discord", "300", parent_id="100")
ROLES = frozenset({"9"})


async def access(
    harness: Harness,
    *,
    permission: Permission = Permission.SERVER_ADMIN,
    where: ChannelKey = GENERAL,
    server: str | None = SERVER,
    roles: frozenset[str] | None = ROLES,
    **options: str,
) -> str:
    actor = Actor("admin", "Admin", permission, roles=roles)
    call = CommandCall("access", options, where, actor, server=server)
    return (await harness.service.run_command(call)).text


async def rules(harness: Harness, channel: ChannelKey = GENERAL) -> ServerRules:
    return await harness.service.server_rules(channel, SERVER)


async def test_with_no_rules_it_says_the_bot_answers_everywhere(harness: Harness) -> None:
    assert (await access(harness)).startswith("No rules: the bot answers in every channel")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("<#555>", "555"), ("555", "555"), (" <#555> ", "555"), ("here", "100"), ("HERE", "100")],
)
async def test_a_channel_is_read_from_a_mention_an_id_or_here(
    harness: Harness, typed: str, stored: str
) -> None:
    answer = await access(harness, action="allow", channel=typed)
    assert f"The bot answers only in: <#{stored}>." in answer
    assert (await rules(harness)).channels == {stored}


async def test_here_in_a_thread_means_its_channel_and_the_thread_follows_it(
    harness: Harness,
) -> None:
    answer = await access(harness, where=THREAD, channel="here")
    assert "The bot answers only in: <#100>." in answer
    assert "Not here" not in answer
    assert (await rules(harness, THREAD)).narrowed(THREAD, frozenset()) is None


@pytest.mark.parametrize("typed", ["<@&42>", "42"])
async def test_a_role_is_read_from_a_mention_or_an_id(harness: Harness, typed: str) -> None:
    """A channel or role given without an action is allowed: the short form admins type."""
    answer = await access(harness, role=typed)
    assert "Only to members with one of these roles: <@&42>." in answer
    assert (await rules(harness)).roles == {"42"}


@pytest.mark.parametrize(
    ("option", "typed", "problem"),
    [
        ("channel", "#general", "channel: takes a #channel"),
        ("channel", "<@123>", "channel: takes a #channel"),
        ("role", "@mods", "role: takes a @role"),
        ("role", "<#5>", "role: takes a @role"),
    ],
)
async def test_a_value_that_is_neither_mention_nor_id_is_refused_and_nothing_stored(
    harness: Harness, option: str, typed: str, problem: str
) -> None:
    assert problem in await access(harness, **{option: typed})
    assert (await rules(harness)).empty


async def test_where_the_platform_has_no_roles_a_role_rule_is_refused(harness: Harness) -> None:
    assert "There are no roles to check here" in await access(harness, roles=None, role="42")
    assert (await rules(harness)).empty


async def test_only_a_server_admin_may_list_or_set_rules(harness: Harness) -> None:
    for permission in (Permission.EVERYONE, Permission.CHANNEL_ADMIN):
        answer = await access(harness, permission=permission, channel="here")
        assert "needs the right to manage the server" in answer
    assert (await rules(harness)).empty


async def test_outside_a_server_there_is_nothing_to_narrow(harness: Harness) -> None:
    answer = await access(harness, server=None, channel="here")
    assert "this chat belongs to none" in answer
    assert await harness.service.server_rules(GENERAL, None) == ServerRules()


async def test_allow_twice_remove_and_clear_answer_what_changed(harness: Harness) -> None:
    await access(harness, channel="<#1>")
    assert "<#1> was allowed already." in await access(harness, channel="<#1>")
    assert "<#2> had no rule to remove." in await access(harness, action="remove", channel="2")
    await access(harness, action="allow", role="<@&5>")
    answer = await access(harness, action="remove", channel="<#1>")
    assert "The bot answers only in" not in answer
    assert "<@&5>" in answer
    assert (await access(harness, action="clear")).startswith("Removed 1 rule. No rules")
    assert (await rules(harness)).empty


async def test_an_action_without_a_channel_or_role_says_what_it_needs(harness: Harness) -> None:
    assert "needs a channel: or a role:" in await access(harness, action="allow")
    assert "needs a channel: or a role:" in await access(harness, action="remove")


async def test_a_change_here_applies_at_once_and_another_processes_within_the_window(
    harness: Harness, stores: Stores[SqlStore]
) -> None:
    """The service remembers rules briefly: its own /access is seen at once; a row written by
    another process (straight to the store here) once FRESH_SECONDS have passed."""
    assert (await rules(harness)).empty
    await access(harness, channel="<#1>")
    assert (await rules(harness)).channels == {"1"}

    await stores.access_rules.allow("discord", SERVER, RuleKind.CHANNEL, "2")
    assert (await rules(harness)).channels == {"1"}
    await harness.clock.sleep(FRESH_SECONDS + 1)
    assert (await rules(harness)).channels == {"1", "2"}


class UnreadableRules(NoAccessRules):
    async def rules(self, platform: str, server: str) -> ServerRules:
        raise StorageError("database is locked")


async def test_rules_that_cannot_be_read_narrow_nothing(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """A database hiccup must not silence a server: the operator's lists still hold."""
    broken = dataclasses.replace(stores, access_rules=UnreadableRules())
    service = build_service(broken, client, FakeClock(auto=True), default=OPERATOR)
    assert await service.server_rules(GENERAL, SERVER) == ServerRules()
