"""Stopping a ReplyStream mid-delivery: the message being written is the last one it writes."""

from __future__ import annotations

import asyncio

from bot.core.domain import ChannelKey, MessageRef, PlatformLimits
from bot.reply.layout import NOTE_SEPARATOR
from bot.reply.pacing import Pacing
from bot.reply.streaming import ReplyStream
from tests.fakes.clock import FakeClock
from tests.fakes.recording_replier import RecordingReplier

SMALL = PlatformLimits(max_length=100, writes_per_window=5, window_seconds=5.0)
HERE = ChannelKey("test", "1")
NOTE = "*(stopped)*"
BACKLOG = "".join(f"line {n:04d} of a reply far longer than a message\n" for n in range(500))


class SendWatcher(RecordingReplier):
    """A RecordingReplier that lets a test wait for its n-th message."""

    def __init__(self, clock: FakeClock, *, limits: PlatformLimits = SMALL) -> None:
        super().__init__(clock, limits=limits)
        self._sent: dict[int, asyncio.Event] = {}

    def sent(self, count: int) -> asyncio.Event:
        return self._sent.setdefault(count, asyncio.Event())

    async def send(self, text: str) -> MessageRef:
        ref = await super().send(text)
        self.sent(len(self.calls_of("send"))).set()
        return ref

    def calls_of(self, kind: str) -> list[str]:
        return [call.text for call in self.calls if call.kind == kind and call.ok]


def build(clock: FakeClock, replier: RecordingReplier) -> ReplyStream:
    budget = Pacing(clock=clock).budget_for(HERE, replier.limits)
    return ReplyStream(replier, budget=budget, clock=clock)


async def test_stop_mid_backlog_sends_one_message_more_at_most() -> None:
    """A stop while many messages wait ends the reply with the next one and the note."""
    clock = FakeClock(auto=True)
    replier = SendWatcher(clock)
    async with build(clock, replier) as stream:
        stream.append(BACKLOG)
        await replier.sent(3).wait()
        stopped_at = clock.now()
        assert stream.stop(NOTE) is True
        await stream.finish()
    assert len(replier.texts) == 4
    words = replier.texts[-1].removesuffix(NOTE_SEPARATOR + NOTE)
    assert BACKLOG.startswith("".join(replier.texts[:-1]) + words)
    assert replier.texts[-1].endswith(NOTE)
    assert all(len(text) <= SMALL.max_length for text in replier.texts)
    assert clock.now() - stopped_at <= SMALL.window_seconds  # one more write at most
    assert replier.violations == []


async def test_stop_before_the_first_words_shows_them_with_the_note() -> None:
    """Text the chat has not seen yet still fills the message being written, then the note."""
    clock = FakeClock(auto=True)
    replier = SendWatcher(clock)
    async with build(clock, replier) as stream:
        stream.append(BACKLOG)
        stream.stop(NOTE)
        await stream.finish()
    [shown] = replier.texts
    words, _, note = shown.partition(NOTE_SEPARATOR)
    assert BACKLOG.startswith(words)
    assert words.strip()
    assert note == NOTE


async def test_a_short_reply_stopped_is_shown_whole() -> None:
    """Stopping a reply that fits one message loses none of it."""
    clock = FakeClock(auto=True)
    replier = SendWatcher(clock)
    async with build(clock, replier) as stream:
        stream.append("Once upon")
        stream.stop(NOTE)
        await stream.finish()
    assert replier.texts == ["Once upon" + NOTE_SEPARATOR + NOTE]


async def test_text_after_a_stop_is_not_sent() -> None:
    """Whatever is appended after a stop is dropped, not an error."""
    clock = FakeClock(auto=True)
    replier = SendWatcher(clock)
    async with build(clock, replier) as stream:
        stream.append("kept")
        stream.stop(NOTE)
        stream.append(" dropped")
        await stream.finish(note="not this note")
    assert replier.texts == ["kept" + NOTE_SEPARATOR + NOTE]


async def test_stop_after_everything_was_delivered_says_so() -> None:
    """A stream that has delivered its last words has nothing to stop."""
    clock = FakeClock(auto=True)
    replier = SendWatcher(clock)
    async with build(clock, replier) as stream:
        stream.append("all of it")
    assert stream.stop(NOTE) is False
    assert replier.texts == ["all of it"]


async def test_delivered_is_what_the_chat_shows() -> None:
    """`delivered` grows with each successful write: finished messages, then the live one."""
    clock = FakeClock(auto=True)
    replier = SendWatcher(clock)
    async with build(clock, replier) as stream:
        assert stream.delivered == ""
        stream.append(BACKLOG)
        await replier.sent(3).wait()
        assert BACKLOG.startswith(stream.delivered)
        assert "".join(replier.texts[:2]) in stream.delivered
        stream.stop()
    assert stream.delivered == "".join(replier.texts)
