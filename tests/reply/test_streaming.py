"""ReplyStream and pacing, on a virtual clock against a recording, budget-judging replier."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.core.domain import ChannelKey, PlatformLimits, count_utf16_units
from bot.core.errors import DeliveryError
from bot.reply.pacing import ChannelBudget, Pacing, TokenBucket
from bot.reply.streaming import MAX_FINAL_RATE_LIMITS, ReplyStream
from bot.reply.text import FENCE_CLOSE, open_fence_at_end
from tests.fakes.clock import FakeClock
from tests.fakes.recording_replier import Call, RecordingReplier

DISCORD = PlatformLimits(max_length=2000, writes_per_window=5, window_seconds=5.0)
SMALL = PlatformLimits(max_length=100, writes_per_window=5, window_seconds=5.0)
HERE = ChannelKey("test", "1")
THERE = ChannelKey("test", "2")


def bodies(messages: list[str]) -> list[str]:
    """The reply's pieces the messages show, without the fence markers splitting added."""
    parts: list[str] = []
    fence: str | None = None
    for index, shown in enumerate(messages):
        body = shown
        if fence is not None:
            marker = next(m for m in (fence + "\n", "```\n") if body.startswith(m))
            body = body.removeprefix(marker)
        last = index == len(messages) - 1
        if (
            not last
            and body.endswith(FENCE_CLOSE)
            and open_fence_at_end(body[: -len(FENCE_CLOSE)], open_fence=fence) is not None
        ):
            body = body[: -len(FENCE_CLOSE)]
        fence = open_fence_at_end(body, open_fence=fence)
        parts.append(body)
    return parts


def shows(messages: list[str], text: str) -> bool:
    """The messages show `text` in order, missing at most whitespace at their ends.

    Platforms trim a message's trailing whitespace, so the stream never spends a write
    only to add some.
    """
    pos = 0
    for body in bodies(messages):
        while not text.startswith(body, pos):
            if pos >= len(text) or not text[pos].isspace():
                return False
            pos += 1
        pos += len(body)
    return not text[pos:].strip()


def build(
    clock: FakeClock,
    limits: PlatformLimits = DISCORD,
    *,
    pacing: Pacing | None = None,
    channel: ChannelKey = HERE,
    replier: RecordingReplier | None = None,
    latency: float = 0.0,
) -> tuple[RecordingReplier, ReplyStream]:
    replier = replier or RecordingReplier(clock, limits=limits, latency=latency)
    budget = (pacing or Pacing(clock=clock)).budget_for(channel, limits)
    return replier, ReplyStream(replier, budget=budget, clock=clock)


def writes_between(calls: list[Call], start: float, end: float) -> int:
    return sum(1 for call in calls if call.kind != "delete" and start <= call.at < end)


async def stream_text(clock: FakeClock, stream: ReplyStream, text: str, *, gap: float) -> None:
    for char in text:
        stream.append(char)
        await clock.sleep(gap)


async def test_placeholder_is_sent_before_any_text() -> None:
    """Entering the stream sends the placeholder at once, before the first token."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    async with stream:
        assert [(c.kind, c.text, c.at) for c in replier.calls] == [("send", "…", 0.0)]
        stream.append("Hi")
    assert replier.texts == ["Hi"]


async def test_without_a_placeholder_the_first_words_are_the_first_send() -> None:
    """Where writes are scarce there is no placeholder: nothing is written until there is
    text, and then it is one send, followed by edits."""
    clock = FakeClock(auto=True)
    scarce = dataclasses.replace(DISCORD, placeholder=False)
    replier, stream = build(clock, scarce)
    async with stream:
        assert replier.calls == []
        await stream_text(clock, stream, "Hello there", gap=0.5)
    assert replier.calls[0].kind == "send"
    assert all(c.kind == "edit" for c in replier.calls[1:])
    assert replier.texts == ["Hello there"]
    assert replier.violations == []


async def test_placeholder_stays_while_text_is_blank() -> None:
    """Whitespace alone is never sent: the placeholder stays."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    async with stream:
        stream.append("\n\n  ")
        await clock.sleep(10)
        assert replier.texts == ["…"]
        stream.append("Hello")
    assert replier.texts == ["\n\n  Hello"]


async def test_burst_of_appends_within_one_window_stays_in_budget() -> None:
    """A thousand appends in one window cost at most writes_per_window writes."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    pieces = [f"{n % 10}" for n in range(1000)]
    text = "".join(pieces)
    async with stream:
        for piece in pieces:
            stream.append(piece)
            await clock.sleep(0.004)
        await stream.finish()
    assert writes_between(replier.calls, 0.0, 5.0) <= 5
    assert replier.texts == [text]
    assert replier.violations == []


async def test_no_edit_repeats_the_previous_text() -> None:
    """Consecutive writes to a message always change what it shows."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    async with stream:
        for piece in ["a", "", "b", "  ", "c", "\n", "d"] * 20:
            stream.append(piece)
            await clock.sleep(0.3)
    shown: dict[str, str] = {}
    for call in replier.writes:
        assert call.ref is not None
        assert shown.get(call.ref, "").rstrip() != call.text.rstrip()
        shown[call.ref] = call.text
    assert replier.violations == []


async def test_latest_text_wins_over_intermediate_states() -> None:
    """Text that arrives while an edit is in flight goes out whole, never piece by piece."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock, latency=0.5)
    async with stream:
        stream.append("a")
        await clock.sleep(0.1)
        for piece in "bcd":
            stream.append(piece)
            await clock.sleep(0.1)
    assert [call.text for call in replier.writes] == ["…", "a", "abcd"]


async def test_retry_after_pauses_then_resumes_with_latest_text() -> None:
    """A rate limit pauses the channel for retry_after; then the newest text goes out."""
    clock = FakeClock()
    replier, stream = build(clock)
    async with stream:
        replier.fail_next(retry_after=3.0)
        stream.append("hello")
        await clock.settle()
        stream.append(" world")
        await clock.advance(2.99)
        assert [call.ok for call in replier.writes] == [True, False]
        await clock.advance(0.02)
        assert replier.writes[-1].text == "hello world"
        assert replier.writes[-1].at >= 3.0
        await stream.finish()
    assert replier.texts == ["hello world"]


async def test_delivery_error_is_retried_at_the_next_slot() -> None:
    """A refusal without retry_after is logged without the text and retried later."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    async with stream:
        replier.fail_next(message="server error")
        stream.append("secret words")
    assert [call.ok for call in replier.writes] == [True, False, True]
    assert replier.writes[2].at >= 1.0
    assert replier.texts == ["secret words"]


async def test_refusal_is_logged_without_message_text(caplog: pytest.LogCaptureFixture) -> None:
    """The warning for a refused edit names the error, never the reply's words."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    with caplog.at_level(logging.DEBUG, logger="bot.reply.streaming"):
        async with stream:
            replier.fail_next(message="server error")
            stream.append("secret words")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("server error" in message for message in warnings)
    assert not any("secret" in record.getMessage() for record in caplog.records)


async def test_final_text_is_given_up_after_three_failures() -> None:
    """finish() returns after three failed attempts at the final text."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    async with stream:
        replier.fail_next(10)
        stream.append("never shown")
        await stream.finish()
    assert [call.ok for call in replier.writes] == [True, False, False, False]
    assert replier.texts == ["…"]


async def test_long_reply_continues_in_new_messages() -> None:
    """Past the limit the reply goes on in new messages, each within the limit."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock, SMALL)
    text = "".join(f"Sentence number {n} is here. " for n in range(30)) + "The end."
    async with stream:
        await stream_text(clock, stream, text, gap=0.01)
    assert len(stream.refs) >= 8
    assert stream.refs == list(replier.messages)
    assert all(len(message) <= SMALL.max_length for message in replier.texts)
    assert shows(replier.texts, text)
    assert replier.violations == []


async def test_code_fence_is_closed_and_reopened_across_messages() -> None:
    """A code block cut between messages is closed in one and reopened with its language."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock, SMALL)
    code = "".join(f"    total += values[{n}]\n" for n in range(12))
    text = f"Here you go:\n```python\n{code}```\nThat sums it."
    async with stream:
        await stream_text(clock, stream, text, gap=0.02)
    messages = replier.texts
    assert any(message.endswith(FENCE_CLOSE) for message in messages[:-1])
    assert all(message.startswith("```python\n") for message in messages[2:])
    assert all(open_fence_at_end(message) is None for message in messages)
    assert shows(messages, text)


async def test_finish_delivers_the_final_text_within_one_slot() -> None:
    """The final text goes out in the first slot the budget allows after finish()."""
    clock = FakeClock(auto=True)
    pacing = Pacing(clock=clock)
    replier, stream = build(clock, pacing=pacing)
    budget = pacing.budget_for(HERE, DISCORD)
    async with stream:
        await stream_text(clock, stream, "x" * 50, gap=0.05)
        finish_at = clock.now()
        slot = finish_at + budget.delay_until_available(finish_at)
        await stream.finish()
    assert replier.writes[-1].text == "x" * 50
    assert replier.writes[-1].at <= slot + 1e-3


async def test_finish_puts_the_note_after_a_blank_line() -> None:
    """The note follows the text after a blank line."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    async with stream:
        stream.append("The answer")
        await stream.finish(note="(stopped)")
    assert replier.texts == ["The answer\n\n(stopped)"]


async def test_note_alone_replaces_the_placeholder_of_an_empty_reply() -> None:
    """With no text at all, the note is the whole message."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    async with stream:
        await stream.finish(note="(empty reply)")
    assert replier.texts == ["(empty reply)"]


async def test_counters_count_sends_and_edits() -> None:
    """sends and edits count the successful writes of each kind."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock, SMALL)
    async with stream:
        await stream_text(clock, stream, "word " * 60, gap=0.05)
    ok = [call for call in replier.writes if call.ok]
    assert stream.sends == sum(1 for call in ok if call.kind == "send")
    assert stream.edits == sum(1 for call in ok if call.kind == "edit")


async def test_two_channels_do_not_share_a_budget() -> None:
    """Streams in different channels each get their channel's full budget."""
    clock = FakeClock(auto=True)
    pacing = Pacing(clock=clock)
    here, first = build(clock, pacing=pacing, channel=HERE)
    there, second = build(clock, pacing=pacing, channel=THERE)

    async def run(stream: ReplyStream) -> None:
        async with stream:
            await stream_text(clock, stream, "y" * 400, gap=0.01)

    await asyncio.gather(run(first), run(second))
    assert writes_between(here.calls, 0.0, 5.0) == 5
    assert writes_between(there.calls, 0.0, 5.0) == 5


async def test_two_streams_in_one_channel_share_a_budget() -> None:
    """Concurrent streams in one channel stay within the channel's budget together."""
    clock = FakeClock(auto=True)
    pacing = Pacing(clock=clock)
    replier, first = build(clock, pacing=pacing)
    _, second = build(clock, pacing=pacing, replier=replier)

    async def run(stream: ReplyStream) -> None:
        async with stream:
            await stream_text(clock, stream, "z" * 300, gap=0.02)

    await asyncio.gather(run(first), run(second))
    assert writes_between(replier.calls, 0.0, 5.0) <= 5
    assert replier.texts == ["z" * 300, "z" * 300]
    assert replier.violations == []


async def test_consecutive_turns_share_the_channel_budget() -> None:
    """A second reply right after a first one does not get a fresh burst."""
    clock = FakeClock(auto=True)
    pacing = Pacing(clock=clock)
    replier, first = build(clock, pacing=pacing)
    _, second = build(clock, pacing=pacing, replier=replier)
    for stream in (first, second):
        async with stream:
            await stream_text(clock, stream, "turn " * 40, gap=0.02)
    assert replier.violations == []


async def test_cancelled_body_delivers_the_text_so_far() -> None:
    """Cancelling the body still delivers what was appended, then stops the editor."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)

    async def turn() -> None:
        async with stream:
            stream.append("first part")
            await clock.sleep(0.1)
            stream.append(", second part")
            await asyncio.Event().wait()

    task = asyncio.create_task(turn())
    await clock.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert replier.texts == ["first part, second part"]
    assert clock.sleepers == 0


async def test_failing_body_delivers_the_text_so_far() -> None:
    """An error in the body still delivers the text so far, and propagates."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)

    async def turn() -> None:
        async with stream:
            stream.append("partial")
            raise RuntimeError("endpoint broke")

    with pytest.raises(RuntimeError, match="endpoint"):
        await turn()
    assert replier.texts == ["partial"]


async def test_interrupted_delivery_is_bounded() -> None:
    """After a failed body, a platform that never accepts is abandoned within abort_seconds."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)

    async def turn() -> None:
        async with stream:
            replier.fail_next(1000, retry_after=2.0)
            stream.append("lost")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await turn()
    assert 0.0 < clock.now() <= 10.0 + 1e-3  # five rate limits of 2 s, or abort_seconds
    assert clock.sleepers == 0


async def test_placeholder_failure_raises_from_enter() -> None:
    """A placeholder that cannot be sent fails the `async with` before any text."""
    clock = FakeClock(auto=True)
    replier, stream = build(clock)
    replier.fail_next(message="no permission")
    with pytest.raises(DeliveryError):
        async with stream:
            pytest.fail("the body must not run")


async def test_append_after_finish_raises() -> None:
    """Text after the final text is a bug in the caller."""
    clock = FakeClock(auto=True)
    _, stream = build(clock)
    async with stream:
        await stream.finish()
        with pytest.raises(RuntimeError):
            stream.append("late")


async def test_bot_wide_budget_caps_writes_across_channels() -> None:
    """With one write per second bot-wide, three channels together write once a second."""
    clock = FakeClock(auto=True)
    pacing = Pacing(global_writes_per_second=1.0, clock=clock)
    pairs = [build(clock, pacing=pacing, channel=ChannelKey("t", str(n))) for n in range(3)]

    async def run(stream: ReplyStream) -> None:
        async with stream:
            await stream_text(clock, stream, "w" * 100, gap=0.05)

    await asyncio.gather(*(run(stream) for _, stream in pairs))
    times = sorted(call.at for replier, _ in pairs for call in replier.writes)
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times))
    assert [replier.texts for replier, _ in pairs] == [["w" * 100]] * 3


async def test_each_platform_has_its_own_bot_wide_budget() -> None:
    """Telegram's bot-wide cap does not slow Discord: each platform's writes are counted
    apart, and channels of one platform share theirs."""
    clock = FakeClock(auto=True)
    pacing = Pacing(clock=clock, platform_writes_per_second={"telegram": 1.0, "discord": 1.0})
    telegram = [pacing.budget_for(ChannelKey("telegram", str(n)), DISCORD) for n in range(2)]
    discord = pacing.budget_for(ChannelKey("discord", "1"), DISCORD)
    telegram[0].take(clock.now())
    assert telegram[1].delay_until_available(clock.now()) > 0.9
    assert discord.delay_until_available(clock.now()) == 0.0
    assert pacing.budget_for(ChannelKey("console", "c"), DISCORD).shared is None


async def test_a_budget_scope_makes_channels_share_a_budget() -> None:
    """Telegram counts a group's writes together, forum topics included."""
    clock = FakeClock(auto=True)
    group = lambda channel: ChannelKey(channel.platform, channel.external_id.split(":")[0])  # noqa: E731
    pacing = Pacing(clock=clock, budget_scopes={"telegram": group})
    topic = pacing.budget_for(ChannelKey("telegram", "-100:7"), DISCORD)
    assert pacing.budget_for(ChannelKey("telegram", "-100:9"), DISCORD) is topic
    assert pacing.budget_for(ChannelKey("telegram", "-200:7"), DISCORD) is not topic
    await topic.spend(clock)
    assert clock.now() == 0.0


def test_pacing_hands_out_one_budget_per_channel() -> None:
    """The same channel always gets the same budget object; another channel another."""
    pacing = Pacing()
    assert pacing.budget_for(HERE, DISCORD) is pacing.budget_for(HERE, DISCORD)
    assert pacing.budget_for(HERE, DISCORD) is not pacing.budget_for(THERE, DISCORD)


def test_token_bucket_allows_a_burst_then_spreads_writes() -> None:
    """Two writes go back to back; the next waits one interval."""
    bucket = TokenBucket(5, 1.0, burst=2)
    for _ in range(2):
        assert bucket.delay_until_available(0.0) == 0.0
        bucket.take(0.0)
    assert bucket.delay_until_available(0.0) == pytest.approx(1.0, abs=1e-3)


def test_token_bucket_pause_delays_every_write() -> None:
    """pause_until holds writes back even when tokens are left."""
    bucket = TokenBucket(5, 1.0)
    bucket.pause_until(7.0)
    assert bucket.delay_until_available(2.0) == pytest.approx(5.0, abs=1e-3)
    assert bucket.delay_until_available(7.001) == 0.0


@given(
    capacity=st.integers(1, 20),
    interval=st.floats(0.05, 5.0),
    burst=st.integers(1, 20),
    gaps=st.lists(st.floats(0.0, 3.0), max_size=60),
)
def test_token_bucket_never_exceeds_capacity_in_a_window(
    capacity: int, interval: float, burst: int, gaps: list[float]
) -> None:
    """A writer that obeys the bucket never makes capacity+1 writes inside one window."""
    bucket = TokenBucket(capacity, interval, burst=burst)
    now, times = 0.0, []
    for gap in gaps:
        now += gap
        now += bucket.delay_until_available(now)
        bucket.take(now)
        times.append(now)
    window = capacity * interval
    assert all(times[i + capacity] - times[i] >= window for i in range(len(times) - capacity))


def test_channel_budget_pause_leaves_other_channels_alone() -> None:
    """A retry_after pauses one channel, not the bot-wide bucket."""
    shared = TokenBucket(50, 0.02)
    paused = ChannelBudget(TokenBucket(5, 1.0), shared)
    other = ChannelBudget(TokenBucket(5, 1.0), shared)
    paused.pause_until(10.0)
    assert paused.delay_until_available(0.0) > 9.0
    assert other.delay_until_available(0.0) == 0.0


async def test_fake_clock_advance_wakes_sleepers_in_order() -> None:
    """advance() wakes due sleepers earliest first, at their own virtual times."""
    clock = FakeClock()
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper(n, s)) for n, s in (("b", 2.0), ("a", 1.0), ("c", 9))]
    await clock.advance(5.0)
    assert woke == [("a", 1.0), ("b", 2.0)]
    assert clock.now() == 5.0
    tasks[2].cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def test_fake_clock_auto_jumps_time_when_idle() -> None:
    """An auto clock moves virtual time only when every task is blocked."""
    clock = FakeClock(auto=True)
    await clock.sleep(3600)
    assert clock.now() == 3600


async def test_fake_clock_auto_settle_leaves_time_alone() -> None:
    """settle() on an auto clock lets ready tasks run without moving virtual time."""
    clock = FakeClock(auto=True)
    ran: list[str] = []

    async def quick() -> None:
        await asyncio.sleep(0)
        ran.append("quick")

    task = asyncio.create_task(quick())
    await clock.settle()
    assert ran == ["quick"]
    assert clock.now() == 0.0
    await task


PIECES = ["word ", "Sentence. ", "\n", "\n\n", "😀", "`x`", "\n```py\n", "\n```\n", "a" * 70, "é"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    pieces=st.lists(st.sampled_from(PIECES), min_size=1, max_size=60),
    gaps=st.lists(st.sampled_from([0.0, 0.01, 0.3, 1.5]), min_size=1, max_size=60),
    limit=st.integers(40, 160),
    utf16=st.booleans(),
)
async def test_random_streams_rejoin_to_their_input(
    pieces: list[str], gaps: list[float], limit: int, utf16: bool
) -> None:
    """Any stream of deltas ends as messages within the limit that rejoin to the input."""
    measure = count_utf16_units if utf16 else len
    limits = PlatformLimits(
        max_length=limit, writes_per_window=3, window_seconds=2.0, measure=measure
    )
    clock = FakeClock(auto=True)
    replier, stream = build(clock, limits)
    text = "".join(pieces) + " END"
    async with stream:
        for index, piece in enumerate(pieces):
            stream.append(piece)
            await clock.sleep(gaps[index % len(gaps)])
        stream.append(" END")
    assert all(measure(message) <= limit for message in replier.texts)
    assert shows(replier.texts, text)
    assert replier.violations == []


async def test_final_delivery_gives_up_on_endless_rate_limits() -> None:
    """A platform answering every final write with retry_after cannot hold the stream forever."""
    clock = FakeClock(auto=True)
    replier = RecordingReplier(clock, limits=DISCORD)
    pacing = Pacing(clock=clock)
    stream = ReplyStream(replier, budget=pacing.budget_for(HERE, DISCORD), clock=clock)
    async with stream:
        stream.append("some text")
        replier.fail_next(1000, retry_after=60.0)
        await stream.finish()
    failed = [call for call in replier.calls if not call.ok]
    assert len(failed) == MAX_FINAL_RATE_LIMITS
