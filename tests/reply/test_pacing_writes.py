"""The one paced, retried write: budget first, a platform's pause waited out, bounded tries."""

from __future__ import annotations

import pytest

from bot.core.errors import DeliveryError
from bot.reply.pacing import PACED_WRITE_ATTEMPTS, ChannelBudget, TokenBucket, write_paced
from tests.fakes.clock import FakeClock


class Platform:
    """A write that fails with the queued errors in turn, then succeeds; records when."""

    def __init__(self, clock: FakeClock, *errors: DeliveryError) -> None:
        self._clock = clock
        self._errors = list(errors)
        self.tries: list[float] = []

    async def write(self) -> str:
        self.tries.append(self._clock.now())
        if self._errors:
            raise self._errors.pop(0)
        return "sent"


def _budget(writes: int = 5, seconds: float = 5.0) -> ChannelBudget:
    return ChannelBudget(TokenBucket(writes, seconds / writes, burst=1))


async def test_a_rate_limited_write_waits_its_retry_after_and_goes_again() -> None:
    """Asked to wait 3 s, the write goes again 3 s later, and its result comes back."""
    clock = FakeClock(auto=True)
    platform = Platform(clock, DeliveryError("slow down", retry_after=3.0))
    sent = await write_paced(platform.write, budget=_budget(), clock=clock, retry_failures=False)
    assert sent == "sent"
    assert platform.tries[0] == 0.0
    assert platform.tries[1] == pytest.approx(3.0, abs=1e-3)


async def test_the_pause_is_the_channels_so_its_next_write_waits_too() -> None:
    """After a 429, another write in the same channel waits out the same pause."""
    clock = FakeClock(auto=True)
    budget = _budget()
    platform = Platform(clock, DeliveryError("slow down", retry_after=4.0))
    await write_paced(platform.write, budget=budget, clock=clock, retry_failures=False)
    other = Platform(clock)
    await write_paced(other.write, budget=budget, clock=clock, retry_failures=False)
    assert other.tries[0] >= 4.0


async def test_each_try_spends_the_budget_first() -> None:
    """With one write a second allowed, three tries after failures are a second apart."""
    clock = FakeClock(auto=True)
    budget = _budget(writes=1, seconds=1.0)
    refused = DeliveryError("refused")
    platform = Platform(clock, refused, refused)
    await write_paced(platform.write, budget=budget, clock=clock, retry_failures=True)
    assert platform.tries == pytest.approx([0.0, 1.0, 2.0], abs=1e-3)


async def test_it_gives_up_after_its_tries_with_the_last_error() -> None:
    """A platform that keeps asking to wait gets `attempts` tries, then the error is raised."""
    clock = FakeClock(auto=True)
    slow = [DeliveryError(f"slow down {n}", retry_after=1.0) for n in range(9)]
    platform = Platform(clock, *slow)
    with pytest.raises(DeliveryError, match="slow down 2"):
        await write_paced(
            platform.write, budget=_budget(), clock=clock, retry_failures=True, attempts=3
        )
    assert len(platform.tries) == 3
    refusing = Platform(clock, *[DeliveryError("refused") for _ in range(9)])
    with pytest.raises(DeliveryError):
        await write_paced(refusing.write, budget=_budget(), clock=clock, retry_failures=True)
    assert len(refusing.tries) == PACED_WRITE_ATTEMPTS


async def test_a_refusal_is_raised_at_once_unless_failures_are_retried() -> None:
    """A refusal without retry_after is not tried again for an answer; a reply's final
    state (its buttons, a settled draft) is, at the next slot."""
    clock = FakeClock(auto=True)
    answer = Platform(clock, DeliveryError("refused"))
    with pytest.raises(DeliveryError, match="refused"):
        await write_paced(answer.write, budget=_budget(), clock=clock, retry_failures=False)
    assert len(answer.tries) == 1
    final = Platform(clock, DeliveryError("refused"))
    assert await write_paced(final.write, budget=_budget(), clock=clock, retry_failures=True)
    assert len(final.tries) == 2
