"""Which reply's buttons act: the latest finished one per channel, in every process."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.core.domain import ChannelKey
from bot.core.shared_state import MemorySharedState
from bot.platforms.common.button_presses import PRESSES
from bot.platforms.common.latest import LatestReplies
from bot.storage.db import create_engine, create_sessions
from bot.storage.shared_state import SqlSharedState
from tests.storage.conftest import fresh_url, postgres_migrated_url  # noqa: F401

HERE = ChannelKey("chat", "1")
TOPIC = ChannelKey("chat", "1:7")


async def test_buttons_act_on_the_latest_reply_only_and_stop_anywhere() -> None:
    """Regenerate under an older reply is refused; under the latest it acts; Stop always."""
    latest = LatestReplies(MemorySharedState())
    await latest.record(HERE, 10)
    await latest.record(HERE, 12)
    assert not await latest.acts_on(HERE, 10, PRESSES["regen"])
    assert await latest.acts_on(HERE, 12, PRESSES["regen"])
    assert await latest.acts_on(HERE, 10, PRESSES["stop"])


async def test_a_newer_message_than_the_latest_known_acts() -> None:
    """A reply settled a moment ago, whose record is still on its way, is not refused."""
    latest = LatestReplies(MemorySharedState())
    await latest.record(HERE, 10)
    assert await latest.acts_on(HERE, 11, PRESSES["regen"])


async def test_before_any_reply_is_known_every_button_acts() -> None:
    """When no reply is known the service acts on its stored last one."""
    assert await LatestReplies(MemorySharedState()).acts_on(HERE, 3, PRESSES["next"])


async def test_each_channel_has_its_own_latest_reply() -> None:
    """A reply in a forum topic leaves the buttons in the group's other topics live."""
    latest = LatestReplies(MemorySharedState())
    await latest.record(HERE, 10)
    await latest.record(TOPIC, 11)
    assert await latest.acts_on(HERE, 10, PRESSES["cont"])


@pytest.fixture
async def processes(fresh_url: str) -> AsyncIterator[list[LatestReplies]]:  # noqa: F811
    """Two processes' latest replies, each with its own engine on one database."""
    engines = [create_engine(fresh_url) for _ in range(2)]
    yield [LatestReplies(SqlSharedState(create_sessions(e))) for e in engines]
    for engine in engines:
        await engine.dispose()


async def test_a_press_is_judged_by_the_reply_another_process_recorded(
    processes: list[LatestReplies],
) -> None:
    """One process wrote replies 10 and then 12; the other refuses 10's Regenerate."""
    one, other = processes
    await one.record(HERE, 10)
    assert await other.acts_on(HERE, 10, PRESSES["regen"])
    await one.record(HERE, 12)

    assert not await other.acts_on(HERE, 10, PRESSES["regen"])
    assert await other.acts_on(HERE, 12, PRESSES["regen"])
