"""A server's own rules: each kind narrows only when it has entries; threads follow theirs."""

from __future__ import annotations

import pytest

from bot.core.domain import ChannelKey
from bot.core.server_access import NO_RULES, Narrowed, RuleKind, ServerRules

GENERAL = ChannelKey("discord", "100")
LOBBY = ChannelKey("discord", "200")
THREAD_IN_GENERAL = ChannelKey("discord", "300", parent_id="100")
TOPIC = ChannelKey("telegram", "-1001:5")


def test_no_rules_narrow_nothing() -> None:
    assert NO_RULES.empty
    assert NO_RULES.narrowed(LOBBY, frozenset()) is None


@pytest.mark.parametrize(
    ("channel", "expected"),
    [(GENERAL, None), (THREAD_IN_GENERAL, None), (LOBBY, Narrowed.CHANNEL)],
)
def test_channel_rules_admit_their_channels_and_those_channels_threads(
    channel: ChannelKey, expected: Narrowed | None
) -> None:
    rules = NO_RULES.with_rule(RuleKind.CHANNEL, "100")
    assert rules.narrowed(channel, frozenset()) is expected


def test_a_forum_topic_is_a_channel_of_its_own() -> None:
    rules = ServerRules(channels=frozenset({"-1001:5"}))
    assert rules.narrowed(TOPIC, frozenset()) is None
    assert rules.narrowed(ChannelKey("telegram", "-1001:7"), frozenset()) is Narrowed.CHANNEL
    assert rules.narrowed(ChannelKey("telegram", "-1001"), frozenset()) is Narrowed.CHANNEL


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (frozenset({"7"}), None),
        (frozenset({"1", "7", "9"}), None),
        (frozenset({"1"}), Narrowed.ROLE),
        (frozenset(), Narrowed.ROLE),
    ],
)
def test_role_rules_admit_members_holding_any_listed_role(
    roles: frozenset[str], expected: Narrowed | None
) -> None:
    rules = ServerRules(roles=frozenset({"7", "8"}))
    assert rules.narrowed(LOBBY, roles) is expected


def test_the_channel_is_judged_before_the_role() -> None:
    """Someone without the role in a shut channel is told about the channel: a role would
    not let them in there."""
    rules = ServerRules(channels=frozenset({"100"}), roles=frozenset({"7"}))
    assert rules.narrowed(LOBBY, frozenset()) is Narrowed.CHANNEL
    assert rules.narrowed(GENERAL, frozenset()) is Narrowed.ROLE
    assert rules.narrowed(GENERAL, frozenset({"7"})) is None
