"""Platform 429s and write retries are told to the observer the pacing was given."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.core.domain import ChannelKey
from bot.core.errors import DeliveryError
from bot.reply.pacing import Pacing, write_paced
from bot.reply.streaming import ReplyStream
from tests.fakes.clock import FakeClock
from tests.fakes.recording_replier import DISCORD_LIKE, RecordingReplier

HERE = ChannelKey("discord", "here")


class CountingObserver:
    """A DeliveryObserver that counts what it hears, by platform."""

    def __init__(self) -> None:
        self.rate_limits: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()

    def rate_limited(self, platform: str) -> None:
        self.rate_limits[platform] += 1

    def write_retried(self, platform: str) -> None:
        self.retries[platform] += 1


class Platform:
    """A write that fails with the queued errors in turn, then succeeds."""

    def __init__(self, *errors: DeliveryError) -> None:
        self._errors = list(errors)

    async def write(self) -> str:
        if self._errors:
            raise self._errors.pop(0)
        return "sent"


def paced(observer: CountingObserver, clock: FakeClock) -> Pacing:
    return Pacing(clock=clock, observer=observer)


async def test_a_paced_write_reports_each_429_and_each_retry() -> None:
    """Two 429s then success: two rate limits and two retries, under the channel's platform."""
    clock, observer = FakeClock(auto=True), CountingObserver()
    budget = paced(observer, clock).budget_for(HERE, DISCORD_LIKE)
    slow = [DeliveryError("slow down", retry_after=1.0) for _ in range(2)]
    await write_paced(Platform(*slow).write, budget=budget, clock=clock, retry_failures=False)
    assert observer.rate_limits == {"discord": 2}
    assert observer.retries == {"discord": 2}


async def test_a_refusal_raised_at_once_is_not_a_retry() -> None:
    """A write given up on is counted as a 429 if it was one, never as a retry."""
    clock, observer = FakeClock(auto=True), CountingObserver()
    budget = paced(observer, clock).budget_for(HERE, DISCORD_LIKE)
    with pytest.raises(DeliveryError):
        await write_paced(
            Platform(DeliveryError("refused")).write,
            budget=budget,
            clock=clock,
            retry_failures=False,
        )
    slow = [DeliveryError("slow down", retry_after=1.0) for _ in range(3)]
    with pytest.raises(DeliveryError):
        await write_paced(
            Platform(*slow).write, budget=budget, clock=clock, retry_failures=True, attempts=2
        )
    assert observer.rate_limits == {"discord": 2}
    assert observer.retries == {"discord": 1}


async def test_a_streams_rate_limited_edit_is_reported_and_retried() -> None:
    """The editor's own 429 handling tells the observer, and the text still arrives."""
    clock, observer = FakeClock(auto=True), CountingObserver()
    replier = RecordingReplier(clock, limits=DISCORD_LIKE)
    budget = paced(observer, clock).budget_for(HERE, DISCORD_LIKE)
    async with ReplyStream(replier, budget=budget, clock=clock) as stream:
        replier.fail_next(1, retry_after=2.0)
        stream.append("Hello there")
    assert replier.texts[-1] == "Hello there"
    assert observer.rate_limits == {"discord": 1}
    assert observer.retries == {"discord": 1}
