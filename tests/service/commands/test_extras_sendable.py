"""Whatever /extras accepts goes out as given, through the real HTTP client and h11."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import h11
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.domain import (
    ChatMessage,
    CompletionRequest,
    Connection,
    EndpointOptions,
    Role,
    SamplingParams,
    Secret,
)
from bot.core.errors import UsageError
from bot.llm.client import OpenAICompatClient, build_http_client
from bot.llm.deadline import StreamTimeouts
from bot.service.turns.extras import apply_extras
from tests.fakes.openai.server import FakeOpenAI

TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=5.0, idle_seconds=5.0, total_seconds=10.0
)
KEY = "sk-test-3b1f0c9d7e2a4f68"

# Header names and values drawn from everything a chat could send, printable or not.
_ANY_CHAR = st.characters(codec="utf-8") | st.sampled_from("\t\r\n\x00\x7f:; ()/é")
_NAMES = st.text(_ANY_CHAR, max_size=12) | st.sampled_from(
    ["Host", "content-length", "Transfer-Encoding", "X-Title", "api-key", "TE", "Expect"]
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # NaN and infinities included
    | st.text(st.characters(exclude_categories=()), max_size=8),  # lone surrogates included
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=30,
)


def accepted(given: dict[str, str]) -> EndpointOptions | None:
    try:
        return apply_extras(EndpointOptions(), given)
    except UsageError:
        return None


@given(st.dictionaries(_NAMES, st.text(_ANY_CHAR, max_size=20), max_size=4))
def test_accepted_headers_are_valid_http(headers: dict[str, str]) -> None:
    """Headers /extras accepts encode as ASCII and pass h11's own checks of a request."""
    options = accepted({"headers": json.dumps(headers)})
    if options is None:
        return
    items = [
        (name.encode("ascii"), value.encode("ascii"))
        for name, value in options.extra_headers.items()
    ]
    h11.Request(method="POST", target="/v1/chat/completions", headers=[(b"Host", b"h"), *items])
    httpx.Request("POST", "http://h/v1", headers=dict(options.extra_headers), json={})


@given(st.dictionaries(st.text(max_size=5), _JSON, max_size=4))
def test_accepted_bodies_encode_as_httpx_sends_them(body: dict[str, object]) -> None:
    """A body /extras accepts is one httpx can encode: finite numbers, UTF-8 text."""
    try:
        raw = json.dumps(body)  # NaN and lone surrogates pass Python's json, as typed by a user
    except RecursionError:
        return
    options = accepted({"body": raw})
    if options is None:
        return
    httpx.Request("POST", "http://h/v1", json=dict(options.extra_body))


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[OpenAICompatClient]:
    async with build_http_client(TIMEOUTS) as http:
        yield OpenAICompatClient(http, timeouts=TIMEOUTS)


def request_with(base_url: str, options: EndpointOptions) -> CompletionRequest:
    return CompletionRequest(
        connection=Connection(base_url, api_key=Secret(KEY), options=options),
        model="scenario/normal",
        messages=(ChatMessage(Role.USER, "hi"),),
        params=SamplingParams(),
    )


async def test_accepted_extras_reach_the_endpoint(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """Headers and body accepted by /extras arrive at a real server exactly as given."""
    options = apply_extras(
        EndpointOptions(),
        {
            "headers": '{"X-Title": "My Bot", "HTTP-Referer": " https://b.example/ ", '
            '"X-Odd": "!#$%&()*+,/:;<=>?@[]^`{|}~\\t\\"x\\""}',
            "body": '{"top_k": 40, "grammar": "日本 😀", "x": 1e308, "nest": [[{"a": null}]]}',
        },
    )
    async for _ in client.stream(request_with(fake.base_url, options)):
        pass
    sent = fake.requests[0]
    assert sent.headers["x-title"] == "My Bot"
    assert sent.headers["http-referer"] == "https://b.example/"
    assert sent.headers["x-odd"] == '!#$%&()*+,/:;<=>?@[]^`{|}~\t"x"'
    assert {k: sent.json[k] for k in ("top_k", "grammar", "x", "nest")} == {
        "top_k": 40,
        "grammar": "日本 😀",
        "x": 1e308,
        "nest": [[{"a": None}]],
    }


@pytest.mark.parametrize("name", ["Authorization", "authorization", "AUTHORIZATION"])
async def test_an_authorization_extra_replaces_the_key_in_any_case(
    client: OpenAICompatClient, fake: FakeOpenAI, name: str
) -> None:
    """An Authorization header in /extras, however spelled, is the only one sent."""
    options = apply_extras(EndpointOptions(), {"headers": json.dumps({name: "Basic eHl6"})})
    async for _ in client.stream(request_with(fake.base_url, options)):
        pass
    assert fake.requests[0].headers["authorization"] == "Basic eHl6"  # not "Bearer …, Basic …"
