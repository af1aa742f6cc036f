"""The OpenAI-compatible client over real loopback HTTP against our fake server."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import socket
from collections.abc import AsyncGenerator, AsyncIterator

import httpx
import pytest
import respx

from bot.core.domain import (
    ChatMessage,
    CompletionRequest,
    Connection,
    Delta,
    Role,
    SamplingParams,
    Secret,
    Usage,
)
from bot.core.errors import (
    EndpointError,
    EndpointRateLimited,
    EndpointRejected,
    EndpointStreamError,
    EndpointTimeout,
    EndpointUnreachable,
)
from bot.llm.client import OpenAICompatClient, build_http_client
from bot.llm.deadline import StreamTimeouts
from bot.llm.failures import connect_failure
from tests.fakes.openai.server import FakeOpenAI

KEY = "sk-test-7f3a9c2e1d5b8f40"
TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=5.0, idle_seconds=5.0, total_seconds=10.0
)
WAIT_SECONDS = 5.0  # the bound on every wait for the fake, so a bug fails instead of hanging


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with build_http_client(TIMEOUTS) as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient) -> OpenAICompatClient:
    return OpenAICompatClient(http, timeouts=TIMEOUTS)


def ask(
    base_url: str, scenario: str, *, key: str | None = None, text: str = "hi there"
) -> CompletionRequest:
    return CompletionRequest(
        connection=Connection(base_url=base_url, api_key=Secret(key) if key else None),
        model=f"scenario/{scenario}",
        messages=(ChatMessage(Role.SYSTEM, "Be brief."), ChatMessage(Role.USER, text)),
        params=SamplingParams(temperature=0.7),
    )


def stream_of(client: OpenAICompatClient, request: CompletionRequest) -> AsyncGenerator[Delta]:
    stream = client.stream(request)
    assert isinstance(stream, AsyncGenerator)
    return stream


async def collect(client: OpenAICompatClient, request: CompletionRequest) -> list[Delta]:
    return [delta async for delta in client.stream(request)]


async def collect_until_error(
    client: OpenAICompatClient, request: CompletionRequest
) -> tuple[list[Delta], EndpointError]:
    received: list[Delta] = []
    try:
        async for delta in client.stream(request):
            received.append(delta)
    except EndpointError as error:
        return received, error
    pytest.fail(f"the stream ended without an error after {received}")


def text_of(deltas: list[Delta]) -> str:
    return "".join(delta.content for delta in deltas)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fast(**seconds: float) -> StreamTimeouts:
    """TIMEOUTS with some deadlines shortened."""
    return dataclasses.replace(TIMEOUTS, **seconds)


# Streams that end well.


async def test_echo_streams_the_last_user_message_word_by_word(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """Each word is its own delta, then a finish reason and the usage."""
    deltas = await collect(client, ask(fake.base_url, "echo"))
    assert [d.content for d in deltas[:4]] == ["You ", "said: ", "hi ", "there"]
    assert deltas[4].finish_reason == "stop"
    assert deltas[5].usage == Usage(prompt_tokens=7, completion_tokens=4)


async def test_request_carries_the_body_and_stream_headers(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """POST /v1/chat/completions with stream, usage option, set params, SSE accept header."""
    await collect(client, ask(fake.base_url, "normal"))
    request = fake.requests[0]
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["accept"] == "text/event-stream"
    assert request.json == {
        "model": "scenario/normal",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hi there"},
        ],
        "stream": True,
        "temperature": 0.7,
        "stream_options": {"include_usage": True},
    }


async def test_bearer_key_is_sent_when_the_connection_has_one(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """The key travels only in the Authorization header."""
    fake.required_api_key = KEY
    assert text_of(await collect(client, ask(fake.base_url, "normal", key=KEY)))
    assert fake.requests[0].headers["authorization"] == f"Bearer {KEY}"


async def test_no_authorization_header_without_a_key(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A keyless local server gets no empty `Bearer ` header."""
    await collect(client, ask(fake.base_url, "normal"))
    assert "authorization" not in fake.requests[0].headers


async def test_normal_reply_is_complete(client: OpenAICompatClient, fake: FakeOpenAI) -> None:
    """The role-only first chunk is skipped; text, finish reason and usage arrive."""
    deltas = await collect(client, ask(fake.base_url, "normal"))
    assert text_of(deltas) == "Hello! How can I help you today?"
    assert [d.finish_reason for d in deltas if d.finish_reason] == ["stop"]
    assert deltas[-1].usage == Usage(prompt_tokens=7, completion_tokens=7)


async def test_reasoning_arrives_before_content(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """reasoning_content deltas are reasoning, never content."""
    deltas = await collect(client, ask(fake.base_url, "reasoning"))
    assert "".join(d.reasoning for d in deltas) == "Let me think."
    assert text_of(deltas) == "The answer is 42."
    assert (deltas[0].reasoning, deltas[0].content) == ("Let me ", "")


async def test_keepalive_comments_are_ignored(client: OpenAICompatClient, fake: FakeOpenAI) -> None:
    """`: keep-alive` and `: OPENROUTER PROCESSING` between chunks change nothing."""
    assert text_of(await collect(client, ask(fake.base_url, "keepalive"))) == "Still here."


async def test_fragmented_crlf_stream_decodes_intact(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """Pieces of 1 to 7 bytes that split lines, events and characters, with CRLF."""
    assert text_of(await collect(client, ask(fake.base_url, "fragmented"))) == "Grüße, 世界 🌍!"


async def test_unicode_line_separators_inside_content_are_kept(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """Raw U+2028, U+2029 and U+0085 in JSON strings split nothing."""
    text = text_of(await collect(client, ask(fake.base_url, "u2028")))
    assert text == "line one\u2028line two\u2029para\x85next"


async def test_finish_reason_without_done_ends_normally(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A server that never sends [DONE] but finished its reply is fine."""
    assert text_of(await collect(client, ask(fake.base_url, "finish_no_done"))) == (
        "Done without DONE."
    )


async def test_json_answer_to_a_streaming_request_is_one_delta(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A server that ignores `stream: true` still gives the whole reply."""
    deltas = await collect(client, ask(fake.base_url, "json"))
    assert deltas == [
        Delta(content="Hello from JSON.", reasoning="Hm.", finish_reason="stop", usage=Usage(7, 4))
    ]


async def test_count_streams_max_tokens_unique_tokens(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """The benchmark's scenario sends exactly max_tokens numbered tokens."""
    plain = ask(fake.base_url, "count")
    request = CompletionRequest(
        plain.connection, plain.model, plain.messages, SamplingParams(max_tokens=50)
    )
    deltas = await collect(client, request)
    assert [d.content for d in deltas if d.content] == [f" t{i:06d}" for i in range(1, 51)]


async def test_unknown_model_uses_the_default_scenario(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A real model name gets the fake's default scenario (echo)."""
    request = ask(fake.base_url, "echo", text="yo")
    request = CompletionRequest(request.connection, "gpt-4o", request.messages)
    assert text_of(await collect(client, request)) == "You said: yo"


# Streams that fail after or before content.


async def test_error_inside_the_stream_raises_after_the_partial_reply(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """The text so far is handed out, then the provider's message is raised."""
    received, error = await collect_until_error(client, ask(fake.base_url, "error_mid_stream"))
    assert text_of(received) == "Partial reply"
    assert isinstance(error, EndpointStreamError)
    assert "upstream overloaded" in str(error)


async def test_stream_cut_without_done_or_finish_raises_after_the_partial_reply(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A body that simply ends mid-reply is a cut-off reply, not a success."""
    received, error = await collect_until_error(client, ask(fake.base_url, "cut"))
    assert text_of(received) == "This reply stops"
    assert isinstance(error, EndpointStreamError)
    assert "cut off" in str(error)


async def test_broken_chunked_body_is_a_stream_error(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A connection closed inside a chunked body (httpx RemoteProtocolError) is translated."""
    received, error = await collect_until_error(client, ask(fake.base_url, "abort"))
    assert text_of(received) == "Half"
    assert isinstance(error, EndpointStreamError)
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)


async def test_empty_stream_is_a_failure(client: OpenAICompatClient, fake: FakeOpenAI) -> None:
    """An empty 200 stream (llama-cpp-python on context overflow) is not an empty reply."""
    _, error = await collect_until_error(client, ask(fake.base_url, "empty"))
    assert isinstance(error, EndpointStreamError)
    assert "context" in error.hint


async def test_non_json_data_is_a_stream_error(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """Plain text in a data line means this is not an OpenAI stream."""
    _, error = await collect_until_error(client, ask(fake.base_url, "garbage"))
    assert isinstance(error, EndpointStreamError)


async def test_html_answer_is_not_an_openai_api(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A 200 web page means the base URL points at a website."""
    _, error = await collect_until_error(client, ask(fake.base_url, "html"))
    assert isinstance(error, EndpointStreamError)
    assert "not an OpenAI-compatible API" in str(error)
    assert "base URL" in error.hint


# Status codes.


@pytest.mark.parametrize(
    ("scenario", "status", "provider", "hint"),
    [
        ("unauthorized", 401, "Incorrect API key", "API key"),
        ("detail", 401, "Invalid API key", "API key"),
        ("forbidden", 403, "This key may not use this model", "API key"),
        ("not_found", 404, "The model does not exist", "ends with /v1 and the model name"),
        ("quota", 429, "You exceeded your current quota", "credit"),
        ("validation", 422, "body.messages: Required", ""),
        ("server_error", 500, "The server had an error", "later"),
        ("bad_gateway", 502, "HTTP 502", "later"),
        ("redirect", 307, "HTTP 307", "redirects to"),
    ],
)
async def test_status_is_a_rejection_with_the_provider_message_and_a_hint(
    client: OpenAICompatClient,
    fake: FakeOpenAI,
    scenario: str,
    status: int,
    provider: str,
    hint: str,
) -> None:
    """Every non-2xx status is an EndpointRejected that says what the server said and what to do."""
    _, error = await collect_until_error(client, ask(fake.base_url, scenario))
    assert type(error) is EndpointRejected
    assert error.status_code == status
    assert error.provider_message.startswith(provider)
    assert hint in error.hint


async def test_redirect_is_not_followed(client: OpenAICompatClient, fake: FakeOpenAI) -> None:
    """A redirect could carry the key to another host: exactly one request is made."""
    await collect_until_error(client, ask(fake.base_url, "redirect", key=KEY))
    assert len(fake.requests) == 1


async def test_rate_limit_carries_retry_after(client: OpenAICompatClient, fake: FakeOpenAI) -> None:
    """A 429 says how long to wait, from the retry-after header."""
    _, error = await collect_until_error(client, ask(fake.base_url, "rate_limited"))
    assert isinstance(error, EndpointRateLimited)
    assert (error.retry_after, error.provider_message) == (7.0, "Rate limit reached")


async def test_rate_limit_prefers_retry_after_ms(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """`retry-after-ms` is more precise than `retry-after`."""
    fake.rate_limit_headers = {"retry-after-ms": "250", "retry-after": "1"}
    _, error = await collect_until_error(client, ask(fake.base_url, "rate_limited"))
    assert isinstance(error, EndpointRateLimited)
    assert error.retry_after == 0.25


async def test_missing_v1_in_the_base_url_gets_the_v1_hint(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """http://host:port without /v1 is the most common mistake: the hint names it."""
    _, error = await collect_until_error(client, ask(fake.base_url.removesuffix("/v1"), "normal"))
    assert isinstance(error, EndpointRejected)
    assert error.status_code == 404
    assert "/v1" in error.hint


async def test_trailing_slash_in_the_base_url_is_dropped(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """`…/v1/` does not become `…/v1//chat/completions`."""
    await collect(client, ask(fake.base_url + "/", "normal"))
    assert fake.requests[0].path == "/v1/chat/completions"


async def test_wrong_key_is_rejected(client: OpenAICompatClient, fake: FakeOpenAI) -> None:
    """A server that requires a key answers 401 to another one."""
    fake.required_api_key = KEY
    _, error = await collect_until_error(
        client, ask(fake.base_url, "normal", key="sk-wrong-key-123")
    )
    assert isinstance(error, EndpointRejected)
    assert error.status_code == 401


async def test_key_that_cannot_be_sent_is_refused_before_any_request(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A pasted key with a stray non-ASCII character or newline fails clearly, unsent."""
    _, error = await collect_until_error(client, ask(fake.base_url, "normal", key="sk-\u201ckey\n"))
    assert "API key" in str(error)
    assert "\u201ckey" not in str(error)
    assert fake.requests == []


# Network failures and deadlines.


async def test_connection_refused_is_unreachable(client: OpenAICompatClient) -> None:
    """Nobody listening: the endpoint is unreachable, and the message names host:port."""
    port = free_port()
    _, error = await collect_until_error(client, ask(f"http://127.0.0.1:{port}/v1", "normal"))
    assert isinstance(error, EndpointUnreachable)
    assert str(error) == f"nothing is listening at 127.0.0.1:{port}"
    assert "port" in error.hint


async def test_https_to_a_plain_http_server_is_named_a_tls_failure(
    client: OpenAICompatClient,
) -> None:
    """https:// to a local server that speaks plain http says TLS, and suggests http://."""

    async def plain_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1024)  # the TLS ClientHello, which a plain server cannot parse
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(plain_http, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        _, error = await collect_until_error(client, ask(f"https://127.0.0.1:{port}/v1", "x"))
    finally:
        server.close()
        await server.wait_closed()
    assert isinstance(error, EndpointUnreachable)
    assert str(error) == f"the TLS handshake with 127.0.0.1:{port} failed"
    assert "http://" in error.hint


def test_unknown_host_is_named() -> None:
    """A host name that does not resolve is reported as such (no real DNS query in tests)."""
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except socket.gaierror as cause:
            raise httpx.ConnectError("[Errno -2] Name or service not known") from cause
    except httpx.ConnectError as exc:
        error = connect_failure(exc, "no-such-host.example:443")
    assert str(error) == "the host of no-such-host.example:443 could not be found"


async def test_error_names_the_host_but_never_the_query(client: OpenAICompatClient) -> None:
    """A key in a query string (`?key=…`) must not reach an error message."""
    base_url = f"http://user:pw@127.0.0.1:{free_port()}/v1?key=sk-in-query"
    _, error = await collect_until_error(client, ask(base_url, "normal"))
    assert "sk-in-query" not in str(error)
    assert "pw" not in str(error)


async def test_invalid_base_url_is_unreachable(client: OpenAICompatClient) -> None:
    """A URL without a scheme is reported, not raised as an httpx error."""
    _, error = await collect_until_error(client, ask("localhost:1234/v1", "normal"))
    assert isinstance(error, EndpointUnreachable)


async def test_connect_timeout_is_phase_connect(client: OpenAICompatClient) -> None:
    """A connection that is never accepted times out in phase "connect"."""
    base_url = "http://127.0.0.1:9/v1"
    with respx.mock:
        respx.post(f"{base_url}/chat/completions").mock(side_effect=httpx.ConnectTimeout("slow"))
        _, error = await collect_until_error(client, ask(base_url, "normal"))
    assert isinstance(error, EndpointTimeout)
    assert error.phase == "connect"


async def test_slow_first_token_times_out_even_with_keepalives(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    """Keep-alive comments are not tokens: the first-token deadline still passes."""
    fake.first_token_delay_seconds = 5.0
    client = OpenAICompatClient(http, timeouts=fast(first_token_seconds=0.3))
    received, error = await collect_until_error(client, ask(fake.base_url, "slow_first_token"))
    assert received == []
    assert isinstance(error, EndpointTimeout)
    assert error.phase == "first_token"


async def test_first_token_within_the_deadline_is_fine(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    """A silent prefill inside first_token_seconds is not cut by the (shorter) idle timeout."""
    fake.first_token_delay_seconds = 0.5
    fake.keepalive_interval_seconds = 10.0  # not a byte until the first token
    timeouts = fast(first_token_seconds=5.0, idle_seconds=0.2)
    client = OpenAICompatClient(http, timeouts=timeouts)
    assert text_of(await collect(client, ask(fake.base_url, "slow_first_token")))


async def test_silence_after_the_first_token_times_out_in_phase_idle(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    """The stream stalls after one token: idle timeout, partial reply kept."""
    fake.token_interval_seconds = 5.0
    client = OpenAICompatClient(http, timeouts=fast(idle_seconds=0.2))
    clock = asyncio.get_running_loop().time
    started = clock()
    received, error = await collect_until_error(client, ask(fake.base_url, "slow"))
    assert clock() - started < 2.0  # at the idle deadline, not the later first-token one
    assert text_of(received) == " t000001"
    assert isinstance(error, EndpointTimeout)
    assert error.phase == "idle"


async def test_total_deadline_times_out_in_phase_total(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    """An endless stream of tokens stops at total_seconds."""
    fake.token_interval_seconds = 0.01
    client = OpenAICompatClient(http, timeouts=fast(total_seconds=0.3))
    received, error = await collect_until_error(client, ask(fake.base_url, "slow"))
    assert received
    assert isinstance(error, EndpointTimeout)
    assert error.phase == "total"


async def test_time_the_consumer_holds_a_delta_is_not_endpoint_silence(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    """A slow consumer does not make the endpoint look idle."""
    client = OpenAICompatClient(http, timeouts=fast(idle_seconds=0.25))
    received = []
    async for delta in client.stream(ask(fake.base_url, "normal")):
        received.append(delta)
        if len(received) == 1:
            await asyncio.sleep(0.75)  # a consumer busy for 3 idle periods (not a sync)
    assert text_of(received) == "Hello! How can I help you today?"


async def test_total_deadline_passing_while_the_consumer_holds_a_delta_raises_next(
    http: httpx.AsyncClient, fake: FakeOpenAI
) -> None:
    """The deadline is raised at the next read, never inside the consumer's own code."""
    client = OpenAICompatClient(http, timeouts=fast(total_seconds=0.2))
    stream = stream_of(client, ask(fake.base_url, "normal"))
    await anext(stream)
    await asyncio.sleep(0.4)  # the consumer is busy past the deadline (not a sync)
    with pytest.raises(EndpointTimeout) as info:
        await anext(stream)
    assert info.value.phase == "total"


# Cancellation.


async def test_cancelling_the_consumer_closes_the_http_stream(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """Stop: the task is cancelled and the server sees the connection close at once."""
    fake.token_interval_seconds = 0.01
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in client.stream(ask(fake.base_url, "slow")):
            first.set()

    task = asyncio.create_task(consume())
    async with asyncio.timeout(WAIT_SECONDS):
        await first.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await fake.wait_disconnected()
    assert fake.closed_early == 1


async def test_closing_the_generator_closes_the_http_stream(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """aclose() after the first delta hangs up on the server."""
    fake.token_interval_seconds = 0.01
    stream = stream_of(client, ask(fake.base_url, "slow"))
    async with asyncio.timeout(WAIT_SECONDS):
        await anext(stream)
        await stream.aclose()
        await fake.wait_disconnected()
    assert fake.closed_early == 1


async def test_outside_cancellation_is_not_turned_into_a_timeout(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A cancel that is not our deadline propagates as CancelledError."""
    fake.first_token_delay_seconds = 5.0
    started = asyncio.Event()

    async def consume() -> None:
        started.set()
        await collect(client, ask(fake.base_url, "slow_first_token"))

    task = asyncio.create_task(consume())
    async with asyncio.timeout(WAIT_SECONDS):
        await started.wait()  # the task now waits inside the stream for the first token
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# Secrets and logs.


@pytest.mark.parametrize(
    "scenario", ["unauthorized", "unauthorized_padded", "not_found", "server_error", "refused"]
)
async def test_api_key_never_appears_in_errors_or_logs(
    client: OpenAICompatClient, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture, scenario: str
) -> None:
    """Not in the message, hint, provider message, cause chain, nor any log record."""
    caplog.set_level(logging.DEBUG)
    base_url = f"http://127.0.0.1:{free_port()}/v1" if scenario == "refused" else fake.base_url
    _, error = await collect_until_error(client, ask(base_url, scenario, key=KEY))
    seen: list[str] = []
    cause: BaseException | None = error
    while cause is not None:
        seen += [str(cause), repr(cause), *map(str, cause.args), str(vars(cause))]
        cause = cause.__cause__ or cause.__context__
    assert not [text for text in seen if KEY in text or KEY[:12] in text]
    assert KEY not in caplog.text


async def test_one_debug_line_per_request_names_host_and_model_only(
    client: OpenAICompatClient, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    """Host and model are logged; the key and the message text are not."""
    caplog.set_level(logging.DEBUG, logger="bot.llm")
    await collect(client, ask(fake.base_url, "echo", key=KEY, text="my secret diary"))
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("bot.llm")]
    assert len(lines) == 1
    assert f"127.0.0.1:{fake.port}" in lines[0]
    assert "scenario/echo" in lines[0]
    assert KEY not in lines[0]
    assert "diary" not in lines[0]


# Models.


async def test_models_lists_sorted_ids(client: OpenAICompatClient, fake: FakeOpenAI) -> None:
    """GET /v1/models gives the ids, sorted."""
    fake.models = ["zeta", "alpha", "mid"]
    assert await client.models(Connection(base_url=fake.base_url)) == ["alpha", "mid", "zeta"]
    assert (fake.requests[0].method, fake.requests[0].path) == ("GET", "/v1/models")


async def test_models_sends_the_key(client: OpenAICompatClient, fake: FakeOpenAI) -> None:
    """The model list is fetched with the connection's key."""
    fake.required_api_key = KEY
    models = await client.models(Connection(base_url=fake.base_url, api_key=Secret(KEY)))
    assert "fake-model" in models


async def test_models_errors_are_mapped_like_streams(
    client: OpenAICompatClient, fake: FakeOpenAI
) -> None:
    """A wrong key is an EndpointRejected 401 here too, with the key scrubbed."""
    fake.required_api_key = "sk-the-right-key-123"
    with pytest.raises(EndpointRejected) as info:
        await client.models(Connection(base_url=fake.base_url, api_key=Secret(KEY)))
    assert info.value.status_code == 401
    assert KEY not in info.value.provider_message


async def test_models_from_nobody_listening_is_unreachable(client: OpenAICompatClient) -> None:
    """Connection refused is the same error as for a stream."""
    with pytest.raises(EndpointUnreachable):
        await client.models(Connection(base_url=f"http://127.0.0.1:{free_port()}/v1"))


@pytest.mark.parametrize("payload", [[{"id": "a"}], {"models": [{"id": "a"}]}])
async def test_models_in_another_shape_is_empty(
    client: OpenAICompatClient, payload: object
) -> None:
    """A list in an unknown shape is no list, not an error (the list is advisory)."""
    base_url = "http://127.0.0.1:9/v1"
    with respx.mock:
        respx.get(f"{base_url}/models").respond(json=payload)
        assert await client.models(Connection(base_url=base_url)) == []


# The fake in a thread (for tests that drive a subprocess).


async def test_fake_in_a_thread_serves_and_sees_hangups(client: OpenAICompatClient) -> None:
    """The threaded fake answers, and signals a hang-up through a threading.Event."""
    with FakeOpenAI.in_thread() as fake:
        assert text_of(await collect(client, ask(fake.base_url, "echo", text="yo"))) == (
            "You said: yo"
        )
        fake.token_interval_seconds = 0.01
        stream = stream_of(client, ask(fake.base_url, "slow"))
        await anext(stream)
        await stream.aclose()
        assert await asyncio.to_thread(fake.disconnected.wait, WAIT_SECONDS)
