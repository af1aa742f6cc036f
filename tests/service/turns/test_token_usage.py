"""A turn's token usage: the endpoint's `usage` in the shapes real servers send, else estimated."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator

import pytest
import respx

from bot.core.domain import (
    ChatMessage,
    CompletionRequest,
    Connection,
    Delta,
    ReasoningDisplay,
    Role,
    TokenSource,
    TokenTally,
    Usage,
)
from bot.core.errors import EndpointUnreachable
from bot.llm.client import OpenAICompatClient, build_http_client
from bot.llm.deadline import StreamTimeouts
from bot.prompt.budget import estimate_tokens
from bot.reply.pacing import Pacing
from bot.reply.streaming import ReplyStream
from bot.service.turns.streamed_reply import StreamedReply
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import Script
from tests.fakes.recording_replier import RecordingReplier
from tests.service.conftest import CHANNEL, LIMITS, Harness

BASE_URL = "http://usage.example/v1"
TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=5.0, idle_seconds=5.0, total_seconds=10.0
)
PROMPT_ESTIMATE = 321


def chunk(
    content: str | None = None, *, finish: str | None = None, **extra: object
) -> dict[str, object]:
    delta = {} if content is None else {"content": content}
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


def sse(*payloads: object) -> bytes:
    events = [b"data: " + json.dumps(p).encode() + b"\n\n" for p in payloads]
    return b"".join(events) + b"data: [DONE]\n\n"


USAGE = {"prompt_tokens": 17, "completion_tokens": 3}
SHAPES: dict[str, tuple[bytes, tuple[TokenTally, TokenTally]]] = {
    "OpenAI: a last chunk with no choices": (
        sse(chunk("Hi "), chunk("there"), chunk(finish="stop"), {"choices": [], "usage": USAGE}),
        (TokenTally(17, TokenSource.ENDPOINT), TokenTally(3, TokenSource.ENDPOINT)),
    ),
    "llama.cpp / vLLM: on the chunk with finish_reason": (
        sse(chunk("Hi "), chunk("there"), chunk(finish="stop", usage=USAGE)),
        (TokenTally(17, TokenSource.ENDPOINT), TokenTally(3, TokenSource.ENDPOINT)),
    ),
    "vLLM continuous usage: running totals on every chunk": (
        sse(
            chunk("Hi ", usage={"prompt_tokens": 17, "completion_tokens": 1}),
            chunk("there", usage={"prompt_tokens": 17, "completion_tokens": 2}),
            chunk(finish="stop", usage=USAGE),
        ),
        (TokenTally(17, TokenSource.ENDPOINT), TokenTally(3, TokenSource.ENDPOINT)),
    ),
    "no usage at all": (
        sse(chunk("Hi "), chunk("there"), chunk(finish="stop")),
        (
            TokenTally(PROMPT_ESTIMATE, TokenSource.ESTIMATED),
            TokenTally(estimate_tokens("Hi there"), TokenSource.ESTIMATED),
        ),
    ),
    "usage: null": (
        sse(chunk("Hi "), chunk("there"), chunk(finish="stop", usage=None)),
        (
            TokenTally(PROMPT_ESTIMATE, TokenSource.ESTIMATED),
            TokenTally(estimate_tokens("Hi there"), TokenSource.ESTIMATED),
        ),
    ),
    "completion_tokens null": (
        sse(
            chunk("Hi there", finish="stop", usage={"prompt_tokens": 9, "completion_tokens": None})
        ),
        (
            TokenTally(9, TokenSource.ENDPOINT),
            TokenTally(estimate_tokens("Hi there"), TokenSource.ESTIMATED),
        ),
    ),
    "prompt_tokens missing, a string count": (
        sse(chunk("Hi there", finish="stop"), {"choices": [], "usage": {"completion_tokens": "4"}}),
        (
            TokenTally(PROMPT_ESTIMATE, TokenSource.ESTIMATED),
            TokenTally(estimate_tokens("Hi there"), TokenSource.ESTIMATED),
        ),
    ),
    "sides in separate chunks": (
        sse(
            chunk("Hi there", usage={"prompt_tokens": 11}),
            chunk(finish="stop", usage={"completion_tokens": 2}),
        ),
        (TokenTally(11, TokenSource.ENDPOINT), TokenTally(2, TokenSource.ENDPOINT)),
    ),
}


@pytest.fixture
async def openai_client() -> AsyncIterator[OpenAICompatClient]:
    async with build_http_client(TIMEOUTS) as http:
        yield OpenAICompatClient(http, timeouts=TIMEOUTS)


async def stream_reply(client: OpenAICompatClient, body: bytes) -> StreamedReply:
    """One reply streamed from `body` through the real client, SSE reader and wire parser."""
    clock = FakeClock(auto=True)
    replier = RecordingReplier(clock, limits=LIMITS)
    stream = ReplyStream(
        replier, budget=Pacing(clock=clock).budget_for(CHANNEL, LIMITS), clock=clock
    )
    reply = StreamedReply(
        client, stream, clock=clock, display=ReasoningDisplay.HIDE, max_reply_chars=10_000
    )
    request = CompletionRequest(
        connection=Connection(base_url=BASE_URL),
        model="m",
        messages=(ChatMessage(Role.USER, "hello"),),
    )

    async def learned(connection: Connection) -> None:
        raise AssertionError("nothing is learned here")

    headers = {"content-type": "text/event-stream"}
    with respx.mock:
        respx.post(f"{BASE_URL}/chat/completions").respond(200, content=body, headers=headers)
        async with stream:
            await reply.run(request, on_options_learned=learned)
    return reply


@pytest.mark.parametrize(("body", "expected"), list(SHAPES.values()), ids=list(SHAPES))
async def test_usage_is_taken_from_each_servers_shape_else_estimated(
    openai_client: OpenAICompatClient, body: bytes, expected: tuple[TokenTally, TokenTally]
) -> None:
    """Each side is the endpoint's count when it gave an integer, else our estimate."""
    reply = await stream_reply(openai_client, body)
    assert reply.content == "Hi there"
    assert reply.token_tallies(PROMPT_ESTIMATE) == expected


async def test_reasoning_counts_as_completion_and_a_lone_surrogate_is_estimated(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The estimate covers reasoning and answer, and survives text no codec can encode."""
    deltas = [
        Delta(reasoning="thinking"),
        Delta(content="odd \ud800 text"),
        Delta(finish_reason="stop"),
    ]
    harness.client.scripts.append(Script(deltas=deltas))
    with caplog.at_level(logging.INFO, logger="bot.service.turns.replying"):
        await harness.say("hello")
    (record,) = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    expected = estimate_tokens("thinking") + estimate_tokens("odd \ufffd text")
    assert record.__dict__["completion_tokens"] == expected
    assert record.__dict__["completion_tokens_source"] == "estimated"


async def test_the_turn_line_carries_the_endpoints_usage(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Text and fields both say the counts and that the endpoint gave them."""
    usage = Delta(usage=Usage(prompt_tokens=42, completion_tokens=5))
    harness.client.scripts.append(
        Script(deltas=[Delta(content="Hello!"), Delta(finish_reason="stop"), usage])
    )
    with caplog.at_level(logging.INFO, logger="bot.service.turns.replying"):
        await harness.say("hello")
    (record,) = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    assert record.getMessage().endswith("prompt_tokens=42 completion_tokens=5 tokens=endpoint")
    fields = record.__dict__
    assert (fields["prompt_tokens"], fields["prompt_tokens_source"]) == (42, "endpoint")
    assert (fields["completion_tokens"], fields["completion_tokens_source"]) == (5, "endpoint")


async def test_without_usage_the_turn_line_gives_the_prompt_as_counted_when_built(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The prompt's estimate is the count the prompt was fitted with, the reply's is estimated."""
    harness.client.scripts.append(
        Script(deltas=[Delta(content="Hello!"), Delta(finish_reason="stop")])
    )
    with caplog.at_level(logging.INFO, logger="bot.service.turns.replying"):
        await harness.say("hello")
    (record,) = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    fields = record.__dict__
    # The prompt holds at least the message answered: some tokens, counted by us.
    assert fields["prompt_tokens"] > estimate_tokens("hello")
    assert fields["prompt_tokens_source"] == "estimated"
    assert fields["completion_tokens"] == estimate_tokens("Hello!")
    assert record.getMessage().endswith(
        f"prompt_tokens={fields['prompt_tokens']} completion_tokens={estimate_tokens('Hello!')} "
        "tokens=estimated"
    )


async def test_one_side_reported_is_a_mixed_line(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """The endpoint's prompt count with our completion estimate says `tokens=mixed`."""
    usage = Delta(finish_reason="stop", usage=Usage(prompt_tokens=30))
    harness.client.scripts.append(Script(deltas=[Delta(content="Hello!"), usage]))
    with caplog.at_level(logging.INFO, logger="bot.service.turns.replying"):
        await harness.say("hello")
    (record,) = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    assert "prompt_tokens=30 " in record.getMessage()
    assert record.getMessage().endswith("tokens=mixed")
    assert record.__dict__["completion_tokens_source"] == "estimated"


async def test_a_refused_turn_has_no_token_counts(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """An endpoint that failed before any delta cost nothing we could count: `-` in the line."""
    harness.client.scripts.append(Script(deltas=[], error=EndpointUnreachable("down")))
    with caplog.at_level(logging.INFO, logger="bot.service.turns.replying"):
        await harness.say("hello")
    (record,) = [r for r in caplog.records if r.getMessage().startswith("turn ")]
    assert record.getMessage().endswith("prompt_tokens=- completion_tokens=- tokens=-")
    assert record.__dict__["prompt_tokens"] is None
