"""The client against endpoints that attack it: endless events, endless reasoning, huge deltas.

Real httpx over loopback against tests/fakes/openai/hostile.py; each case is bounded in time.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.core.domain import ChatMessage, CompletionRequest, Connection, Delta, Role
from bot.core.errors import EndpointError, EndpointStreamError, EndpointTimeout
from bot.llm.client import OpenAICompatClient, build_http_client
from bot.llm.deadline import StreamTimeouts
from tests.fakes.openai.hostile import HUGE_DELTA_CHARS, HostileEndpoint

TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=20.0, idle_seconds=20.0, total_seconds=60.0
)
WAIT_SECONDS = 30.0  # the bound on every attack, so a bug fails instead of hanging


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(TIMEOUTS) as client:
        yield client


def ask(endpoint: HostileEndpoint, *, max_reasoning_chars: int | None = None) -> CompletionRequest:
    return CompletionRequest(
        connection=Connection(base_url=endpoint.base_url),
        model="any",
        messages=(ChatMessage(Role.USER, "hi"),),
        max_reasoning_chars=max_reasoning_chars,
    )


def fast(**seconds: float) -> StreamTimeouts:
    return dataclasses.replace(TIMEOUTS, **seconds)


@dataclasses.dataclass
class Received:
    """What a stream gave, counted rather than kept: a flood must not fill the test's memory."""

    deltas: int = 0
    content: str = ""
    reasoning_chars: int = 0

    def add(self, delta: Delta) -> None:
        self.deltas += 1
        self.content += delta.content
        self.reasoning_chars += len(delta.reasoning)


async def until_error(
    client: OpenAICompatClient, request: CompletionRequest
) -> tuple[Received, EndpointError]:
    received = Received()
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            async for delta in client.stream(request):
                received.add(delta)
    except EndpointError as error:
        return received, error
    pytest.fail(f"the stream ended without an error after {received.deltas} deltas")


async def test_an_event_that_never_ends_fails_naming_the_cause(http: httpx.AsyncClient) -> None:
    """`data:` lines for ever without a blank line end in a stream error, not in lost memory."""
    client = OpenAICompatClient(http, timeouts=TIMEOUTS)
    async with HostileEndpoint("endless_event") as endpoint:
        received, error = await until_error(client, ask(endpoint))
    assert received.deltas == 0
    assert isinstance(error, EndpointStreamError)
    assert "stream event that never ended" in str(error)


async def test_a_huge_single_delta_arrives_whole(http: httpx.AsyncClient) -> None:
    """One 10 MB delta is a legal event: the client passes it on (the service cuts the reply)."""
    client = OpenAICompatClient(http, timeouts=TIMEOUTS)
    async with HostileEndpoint("huge_delta") as endpoint, asyncio.timeout(WAIT_SECONDS):
        deltas = [delta async for delta in client.stream(ask(endpoint))]
    assert sum(len(delta.content) for delta in deltas) == HUGE_DELTA_CHARS


async def test_endless_reasoning_past_the_cap_must_turn_into_an_answer_in_time(
    http: httpx.AsyncClient,
) -> None:
    """Past the reasoning cap, thinking is no longer progress: no answer in time is a timeout."""
    client = OpenAICompatClient(http, timeouts=fast(first_token_seconds=1.0))
    async with HostileEndpoint("endless_reasoning") as endpoint:
        received, error = await until_error(client, ask(endpoint, max_reasoning_chars=5_000))
    assert isinstance(error, EndpointTimeout)
    assert error.phase == "answer"
    assert str(error) == (
        "the model kept reasoning past the limit and did not start answering within 1 s"
    )
    assert received.content == ""
    assert received.reasoning_chars > 5_000


async def test_reasoning_without_a_cap_is_progress(http: httpx.AsyncClient) -> None:
    """Without a cap the endless thinker meets the total deadline, not the first-token one."""
    client = OpenAICompatClient(http, timeouts=fast(first_token_seconds=1.0, total_seconds=3.0))
    async with HostileEndpoint("endless_reasoning") as endpoint:
        _, error = await until_error(client, ask(endpoint))
    assert isinstance(error, EndpointTimeout)
    assert error.phase == "total"


async def test_an_answer_after_long_reasoning_still_arrives(http: httpx.AsyncClient) -> None:
    """A model that thinks past the cap and then answers in time gives its whole answer."""
    client = OpenAICompatClient(http, timeouts=fast(first_token_seconds=2.0))
    received = Received()
    async with HostileEndpoint("reasoning_then_answer") as endpoint, asyncio.timeout(WAIT_SECONDS):
        async for delta in client.stream(ask(endpoint, max_reasoning_chars=5_000)):
            received.add(delta)
    assert received.content == "The answer is 42."
    assert received.reasoning_chars > 200_000
