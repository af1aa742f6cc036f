"""The safety caps of one reply: its answer and its reasoning, however the endpoint sends them."""

from __future__ import annotations

import asyncio

import pytest

from bot.core.domain import Delta, MessageRef, MessageStatus, Permission
from bot.service.turns.streamed_reply import (
    CAPPED_NOTE,
    DEFAULT_MAX_REASONING_CHARS,
    REASONING_CAPPED_NOTE,
)
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import Script, reply
from tests.fakes.recording_replier import RecordingReplier
from tests.service.conftest import CHANNEL, LIMITS, Harness

REPLY_CAP = 20_000  # the service's default reply cap
MAX_MESSAGES = REPLY_CAP // LIMITS.max_length + 1  # the capped text, then its note


async def stored_reply(harness: Harness) -> tuple[str, str, str | None]:
    state = await harness.store.load_channel(CHANNEL)
    reply = (await harness.store.history(state.chat_id, limit=10))[-1]
    return reply.status.value, reply.content, reply.reasoning


SHAPES = {
    "one 10 MB delta": [Delta(content="x" * 10_000_000)],
    "a delta crossing the cap": [Delta(content="y" * 19_990), Delta(content="z" * 30_000)],
    "after a think block": [Delta(content="<think>plan</think>" + "w" * 50_000)],
}


@pytest.mark.parametrize("deltas", list(SHAPES.values()), ids=list(SHAPES))
async def test_a_reply_past_the_cap_is_cut_inside_the_delta(
    harness: Harness, deltas: list[Delta]
) -> None:
    """However much one delta carries, the reply shown and stored stops at the cap, said so."""
    harness.client.scripts.append(Script(deltas=[*deltas, Delta(finish_reason="stop")]))
    replier = harness.replier()
    outcome = await harness.say("write a lot", replier=replier)
    assert outcome.status is MessageStatus.COMPLETE
    assert len(outcome.content) == REPLY_CAP
    assert outcome.finish_reason == "length"
    status, content, _ = await stored_reply(harness)
    assert (status, len(content)) == ("complete", REPLY_CAP)
    assert replier.texts[-1].endswith(CAPPED_NOTE.format(limit=REPLY_CAP))
    assert len(replier.texts) <= MAX_MESSAGES
    assert "".join(replier.texts).count("x") <= REPLY_CAP
    assert replier.violations == []


REASONING_SHAPES = {
    "one huge reasoning delta": [Delta(reasoning="r" * 10_000_000)],
    "many reasoning deltas": [Delta(reasoning="thinking hard. " * 1000)] * 200,
    "a think block in the content": [Delta(content="<think>" + "t" * 300_000), Delta("</think>")],
}


@pytest.mark.parametrize("deltas", list(REASONING_SHAPES.values()), ids=list(REASONING_SHAPES))
async def test_reasoning_past_its_cap_is_cut_and_the_answer_still_comes(
    harness: Harness, deltas: list[Delta]
) -> None:
    """Reasoning stops being kept at its cap, the chat is told, and the answer is whole."""
    answer = [Delta(content="The answer is 42."), Delta(finish_reason="stop")]
    harness.client.scripts.append(Script(deltas=[*deltas, *answer]))
    replier = harness.replier()
    outcome = await harness.say("think first", replier=replier)
    assert outcome.status is MessageStatus.COMPLETE
    assert outcome.content == "The answer is 42."
    assert len(outcome.reasoning) == DEFAULT_MAX_REASONING_CHARS
    status, content, reasoning = await stored_reply(harness)
    assert (status, content) == ("complete", "The answer is 42.")
    assert len(reasoning or "") == DEFAULT_MAX_REASONING_CHARS
    note = REASONING_CAPPED_NOTE.format(limit=DEFAULT_MAX_REASONING_CHARS)
    assert replier.texts[-1].endswith("The answer is 42.\n\n" + note)


async def test_reasoning_under_its_cap_says_nothing(harness: Harness) -> None:
    """A model that thinks a normal amount gets no note."""
    deltas = [
        Delta(reasoning="A short thought."),
        Delta(content="Hi!"),
        Delta(finish_reason="stop"),
    ]
    harness.client.scripts.append(Script(deltas=deltas))
    replier = harness.replier()
    outcome = await harness.say("hello", replier=replier)
    assert outcome.reasoning == "A short thought."
    assert replier.texts[-1] == "Hi!"


async def test_the_request_carries_the_reasoning_cap(harness: Harness) -> None:
    """The client is told where reasoning stops counting as progress (its deadlines use it)."""
    harness.client.scripts.append(Script(deltas=[Delta(content="ok"), Delta(finish_reason="stop")]))
    await harness.say("hello")
    assert harness.client.requests[-1].max_reasoning_chars == DEFAULT_MAX_REASONING_CHARS


class SendWatcher(RecordingReplier):
    """A RecordingReplier that lets a test wait for the reply's n-th message."""

    def __init__(self, clock: FakeClock) -> None:
        super().__init__(clock, limits=LIMITS)
        self._sent: dict[int, asyncio.Event] = {}

    def sent(self, count: int) -> asyncio.Event:
        return self._sent.setdefault(count, asyncio.Event())

    async def send(self, text: str) -> MessageRef:
        ref = await super().send(text)
        self.sent(len(self.messages)).set()
        return ref


async def test_stop_while_a_long_reply_is_still_being_sent_ends_it(harness: Harness) -> None:
    """The model is done but messages still wait for the channel: /stop ends the sending."""
    huge = [Delta(content="x" * 10_000_000), Delta(finish_reason="stop")]
    harness.client.scripts += [Script(deltas=huge), reply("Next answer.")]
    replier = SendWatcher(harness.clock)
    turn = asyncio.create_task(harness.say("write a lot", replier=replier))
    await replier.sent(3).wait()
    answer = await harness.command("stop", permission=Permission.EVERYONE)
    assert answer.text == "Stopped."
    stopped_at = harness.clock.now()
    outcome = await turn
    assert harness.clock.now() - stopped_at <= LIMITS.window_seconds
    assert len(replier.texts) <= 4
    assert replier.texts[-1].endswith("*(stopped)*")
    assert outcome.content.startswith("".join(replier.texts[:3]))
    assert (await harness.say("and now?")).content == "Next answer."
