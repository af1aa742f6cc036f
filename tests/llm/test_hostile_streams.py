"""The client against endpoints that attack it: endless events, endless reasoning, huge deltas.

Real httpx over loopback against tests/fakes/hostile_server.py; each case is bounded in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.domain import ChatMessage, CompletionRequest, Connection, Delta, Role
from bot.errors import EndpointError, EndpointStreamError
from bot.llm.client import OpenAICompatClient, build_http_client
from bot.llm.deadline import StreamTimeouts
from tests.fakes.hostile_server import HUGE_DELTA_CHARS, HostileEndpoint

TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=20.0, idle_seconds=20.0, total_seconds=60.0
)
WAIT_SECONDS = 30.0  # the bound on every attack, so a bug fails instead of hanging


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(TIMEOUTS) as client:
        yield client


def ask(endpoint: HostileEndpoint) -> CompletionRequest:
    return CompletionRequest(
        connection=Connection(base_url=endpoint.base_url),
        model="any",
        messages=(ChatMessage(Role.USER, "hi"),),
    )


async def until_error(
    client: OpenAICompatClient, request: CompletionRequest
) -> tuple[list[Delta], EndpointError]:
    received: list[Delta] = []
    try:
        async with asyncio.timeout(WAIT_SECONDS):
            async for delta in client.stream(request):
                received.append(delta)
    except EndpointError as error:
        return received, error
    pytest.fail(f"the stream ended without an error after {len(received)} deltas")


async def test_an_event_that_never_ends_fails_naming_the_cause(http: httpx.AsyncClient) -> None:
    """`data:` lines for ever without a blank line end in a stream error, not in lost memory."""
    client = OpenAICompatClient(http, timeouts=TIMEOUTS)
    async with HostileEndpoint("endless_event") as endpoint:
        received, error = await until_error(client, ask(endpoint))
    assert received == []
    assert isinstance(error, EndpointStreamError)
    assert "stream event that never ended" in str(error)


async def test_a_huge_single_delta_arrives_whole(http: httpx.AsyncClient) -> None:
    """One 10 MB delta is a legal event: the client passes it on (the service cuts the reply)."""
    client = OpenAICompatClient(http, timeouts=TIMEOUTS)
    async with HostileEndpoint("huge_delta") as endpoint, asyncio.timeout(WAIT_SECONDS):
        deltas = [delta async for delta in client.stream(ask(endpoint))]
    assert sum(len(delta.content) for delta in deltas) == HUGE_DELTA_CHARS
