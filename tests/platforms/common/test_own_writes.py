"""A replier's own final writes: paced, waiting out a platform's pause, bounded retries."""

from __future__ import annotations

import pytest

from bot.core.errors import DeliveryError
from bot.platforms.common.own_writes import write_persistently
from bot.reply.pacing import ChannelBudget, TokenBucket
from tests.fakes.clock import FakeClock


async def test_a_repliers_own_write_waits_out_a_pause_and_gives_up_in_the_end() -> None:
    """A final write (new buttons, a settled draft) asked to wait 3 s goes again after 3 s;
    one that keeps failing is tried a bounded number of times, then the error is raised."""
    clock = FakeClock(auto=True)
    budget = ChannelBudget(TokenBucket(5, 1.0))
    tries: list[float] = []

    async def slowed_once() -> None:
        tries.append(clock.now())
        if len(tries) == 1:
            raise DeliveryError("slow down", retry_after=3.0)

    await write_persistently(slowed_once, budget=budget, clock=clock)
    assert tries[0] == 0.0
    assert tries[1] >= 3.0

    refused: list[float] = []

    async def always_refused() -> None:
        refused.append(clock.now())
        raise DeliveryError("refused")

    with pytest.raises(DeliveryError, match="refused"):
        await write_persistently(always_refused, budget=budget, clock=clock, attempts=3)
    assert len(refused) == 3
