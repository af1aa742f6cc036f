"""A ReplyStream with a keeper: the chat is shown only text the keeper has stored first."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine

from bot.core.domain import ChannelKey, MessageRef, PlatformLimits
from bot.reply.pacing import Pacing
from bot.reply.streaming import ReplyStream
from tests.fakes.clock import FakeClock
from tests.fakes.recording_replier import RecordingReplier

FAST = PlatformLimits(max_length=2000, writes_per_window=10, window_seconds=1.0)
HERE = ChannelKey("test", "1")
KEEP_INTERVAL_SECONDS = 1.0


class Journal:
    """A keeper that records what it stored and when, and what the chat showed at that time."""

    def __init__(self, clock: FakeClock, text: list[str]) -> None:
        self.clock = clock
        self.text = text  # the reply so far, as the generation holds it
        self.kept: list[tuple[float, str]] = []
        self.last: float | None = None
        self.release = asyncio.Event()
        self.release.set()
        self.stored = asyncio.Event()

    def seconds_until_next_keep(self, now: float) -> float:
        return 0.0 if self.last is None else max(0.0, self.last + KEEP_INTERVAL_SECONDS - now)

    def keep(self) -> Coroutine[None, None, None]:
        snapshot, self.last = "".join(self.text), self.clock.now()
        return self._store(snapshot)

    async def _store(self, snapshot: str) -> None:
        await self.release.wait()
        self.kept.append((self.clock.now(), snapshot))
        self.stored.set()


class CheckingReplier(RecordingReplier):
    """Fails the test's check if a write shows text the journal has not stored yet."""

    def __init__(self, clock: FakeClock, journal: Journal) -> None:
        super().__init__(clock, limits=FAST)
        self.journal = journal
        self.unkept_writes: list[str] = []

    def _check(self, text: str) -> None:
        stored = self.journal.kept[-1][1] if self.journal.kept else ""
        if text != "…" and not stored.startswith(text):
            self.unkept_writes.append(text)

    async def send(self, text: str) -> MessageRef:
        self._check(text)
        return await super().send(text)

    async def edit(self, ref: MessageRef, text: str) -> None:
        self._check(text)
        await super().edit(ref, text)


async def stream_tokens(clock: FakeClock, journal: Journal, tokens: int) -> CheckingReplier:
    replier = CheckingReplier(clock, journal)
    budget = Pacing(clock=clock).budget_for(HERE, replier.limits)
    stream = ReplyStream(replier, budget=budget, clock=clock, keeper=journal)
    async with stream:
        for n in range(tokens):
            token = f" t{n}"
            journal.text.append(token)
            stream.append(token)
            await clock.sleep(0.05)
    return replier


async def test_no_write_shows_text_before_it_is_kept() -> None:
    """Every send and edit but the final one (which the turn's own final write stores)
    shows a prefix of what the keeper stored before it."""
    clock = FakeClock(auto=True)
    journal = Journal(clock, [])
    replier = await stream_tokens(clock, journal, tokens=100)
    assert len(replier.calls) > 3
    assert replier.unkept_writes in ([], replier.texts[-1:])


async def test_keeps_are_paced_to_one_a_second() -> None:
    """Five seconds of tokens cost about five keeps, never two within a second."""
    clock = FakeClock(auto=True)
    journal = Journal(clock, [])
    await stream_tokens(clock, journal, tokens=100)
    times = [at for at, _ in journal.kept]
    assert 3 <= len(times) <= 7
    assert all(b - a >= KEEP_INTERVAL_SECONDS for a, b in itertools.pairwise(times))


async def test_the_final_text_does_not_wait_for_a_keep() -> None:
    """At the end the whole text is shown at once: the turn's final write stores it."""
    clock = FakeClock(auto=True)
    journal = Journal(clock, [])
    replier = CheckingReplier(clock, journal)
    budget = Pacing(clock=clock).budget_for(HERE, replier.limits)
    async with ReplyStream(replier, budget=budget, clock=clock, keeper=journal) as stream:
        journal.release.clear()  # the store is slow: no keep lands
        stream.append("All of it at once.")
        await stream.finish()
    assert replier.texts[-1] == "All of it at once."
    assert journal.kept == []


async def test_the_end_does_not_wait_out_the_keep_interval() -> None:
    """Text that waits for the next keep is shown as soon as the reply ends, not a second on."""
    clock = FakeClock(auto=True)
    journal = Journal(clock, [])
    replier = CheckingReplier(clock, journal)
    budget = Pacing(clock=clock).budget_for(HERE, replier.limits)
    async with ReplyStream(replier, budget=budget, clock=clock, keeper=journal) as stream:
        stream.append("First words.")
        await journal.stored.wait()
        stream.append(" The rest.")  # waits for a keep that is not due for a second
        await clock.settle()  # the editor is asleep until that keep
        ended_at = clock.now()
        await stream.finish()
    assert replier.texts[-1] == "First words. The rest."
    assert replier.calls[-1].at - ended_at < KEEP_INTERVAL_SECONDS / 2
