"""EndpointTokenizer over real loopback HTTP against the fake server and its backend profiles."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from bot.core.domain import Connection, Secret, TokenCounts
from bot.llm.client import build_http_client
from bot.llm.deadline import StreamTimeouts
from bot.llm.guard import EndpointPolicy, build_guarded_http_client
from bot.llm.tokenize import ESTIMATE, EndpointTokenizer, estimate, estimate_tokens
from tests.fakes.openai.server import FakeOpenAI, fake_token_ids

KEY = "sk-test-7f3a9c2e1d5b8f40"
MODEL = "fake-model"
TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=5.0, idle_seconds=5.0, total_seconds=10.0
)
TEXTS = ("the quick brown fox", "", "jumps over the lazy dog again and again")
WORDS = tuple(len(fake_token_ids(text)) for text in TEXTS)  # (4, 0, 8)
TOKENIZER = re.compile(r"(llama\.cpp|text-generation-webui):[0-9a-f]{12}")


class Now:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def guarded() -> AsyncIterator[httpx.AsyncClient]:
    """The guarded client with private endpoints allowed, so it may reach the loopback fake."""
    async with build_guarded_http_client(EndpointPolicy(allow_private=True), TIMEOUTS) as client:
        yield client


@pytest.fixture
def now() -> Now:
    return Now()


@pytest.fixture
def tokenizer(guarded: httpx.AsyncClient, now: Now) -> EndpointTokenizer:
    return EndpointTokenizer(guarded, request_timeout_seconds=0.5, now=now)


def at(base_url: str, *, key: str | None = None, trusted: bool = False) -> Connection:
    return Connection(base_url=base_url, api_key=Secret(key) if key else None, trusted=trusted)


def tokenize_calls(fake: FakeOpenAI) -> int:
    return sum(1 for request in fake.requests if request.path.endswith("tokenize"))


def test_estimate_is_utf8_bytes_over_3_35_rounded_up() -> None:
    """The fallback: ceil(bytes / 3.35), 0 for an empty text, exact at multiples."""
    assert [estimate_tokens(t) for t in ("", "a", "é", "a" * 67, "a" * 68)] == [0, 1, 1, 20, 21]


async def test_counts_come_from_the_endpoints_tokenize(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI
) -> None:
    """A server with llama.cpp's /tokenize counts the texts; an empty text is 0 without asking."""
    counts = await tokenizer.count(at(fake.base_url), MODEL, TEXTS)
    assert counts.counts == WORDS
    assert counts.counts != estimate(TEXTS).counts
    assert TOKENIZER.fullmatch(counts.tokenizer)
    assert counts.tokenizer.startswith("llama.cpp:")
    bodies = [r.json for r in fake.requests if r.path == "/tokenize"]
    assert {"content": ""} not in bodies
    assert {"content": TEXTS[0]} in bodies


async def test_tokenizer_name_differs_per_model_and_server(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI
) -> None:
    """Cached counts are reused only for the same server and model: the names say which."""
    first = await tokenizer.count(at(fake.base_url), "model-a", TEXTS)
    again = await tokenizer.count(at(fake.base_url + "/"), "model-a", TEXTS)
    other_model = await tokenizer.count(at(fake.base_url), "model-b", TEXTS)
    other_server = await tokenizer.count(at(fake.backend_url("llamacpp")), "model-a", TEXTS)
    assert first.tokenizer == again.tokenizer
    names = {first.tokenizer, other_model.tokenizer, other_server.tokenizer}
    assert len(names) == 3


async def test_missing_tokenizer_falls_back_and_is_probed_once(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI
) -> None:
    """/tokenize and /internal/token-count both 404: estimate, and the probe is not repeated."""
    fake.tokenize_enabled = False
    first = await tokenizer.count(at(fake.base_url), MODEL, TEXTS)
    probes = len(fake.requests)
    second = await tokenizer.count(at(fake.base_url), MODEL, TEXTS)
    assert first == second == estimate(TEXTS)
    assert first.tokenizer == ESTIMATE
    assert probes == 2
    assert [r.path for r in fake.requests] == ["/tokenize", "/v1/internal/token-count"]


async def test_concurrent_first_counts_probe_once(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI
) -> None:
    """Two channels counting at once on a new endpoint share one probe."""
    fake.tokenize_enabled = False
    results = await asyncio.gather(
        *(tokenizer.count(at(fake.base_url), MODEL, TEXTS) for _ in "ab")
    )
    assert results == [estimate(TEXTS)] * 2
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("backend", "tokenizer_name"),
    [("llamacpp", "llama.cpp"), ("tgwui", "text-generation-webui")],
)
async def test_backend_profiles_count_with_their_own_route(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI, backend: str, tokenizer_name: str
) -> None:
    """llama.cpp's root /tokenize and text-generation-webui's /v1/internal/token-count."""
    counts = await tokenizer.count(at(fake.backend_url(backend)), MODEL, TEXTS)
    assert counts.counts == WORDS
    assert counts.tokenizer.startswith(f"{tokenizer_name}:")


@pytest.mark.parametrize("backend", ["llamacpppython", "lmstudio", "ollama", "vllm"])
async def test_servers_without_a_known_tokenizer_are_estimated_once(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI, backend: str
) -> None:
    """FastAPI's and Go's 404s, and LM Studio's 200 {"error"} for any path, all mean "none"."""
    for _ in range(2):
        counts = await tokenizer.count(at(fake.backend_url(backend)), MODEL, TEXTS)
        assert counts == estimate(TEXTS)
    assert len(fake.requests) == 2


async def test_hanging_tokenizer_falls_back_and_rests(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI, now: Now
) -> None:
    """Past the per-request timeout: estimate; not asked again until the rest is over."""
    fake.tokenize_delay_seconds = 3.0
    async with asyncio.timeout(2.0):
        assert await tokenizer.count(at(fake.base_url), MODEL, TEXTS) == estimate(TEXTS)
        assert await tokenizer.count(at(fake.base_url), MODEL, TEXTS) == estimate(TEXTS)
    assert tokenize_calls(fake) == 1
    fake.tokenize_delay_seconds = 0.0
    now.value += 61.0
    counts = await tokenizer.count(at(fake.base_url), MODEL, TEXTS)
    assert counts.counts == WORDS


@pytest.mark.parametrize("answer", [b"<!doctype html><title>llama.cpp</title>", b"[" * 100_000])
async def test_garbage_answer_means_no_tokenizer(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI, answer: bytes
) -> None:
    """A 200 that is not JSON (a web UI's page, JSON nested past Python's limit) means none."""
    fake.tokenize_answer = answer
    for _ in range(2):
        assert await tokenizer.count(at(fake.base_url), MODEL, TEXTS) == estimate(TEXTS)
    assert len(fake.requests) == 2  # /tokenize and /internal/token-count, once each


async def test_json_of_the_wrong_shape_means_no_tokenizer(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI
) -> None:
    """{"tokens": 3} is not a token list: estimate."""
    fake.tokenize_answer = json.dumps({"tokens": 3}).encode()
    assert await tokenizer.count(at(fake.base_url), MODEL, TEXTS) == estimate(TEXTS)


async def test_key_is_sent_as_bearer_and_never_logged(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    """The key goes in Authorization like the chat requests; no log line carries it."""
    caplog.set_level(logging.DEBUG)
    fake.required_api_key = KEY
    counts = await tokenizer.count(at(fake.base_url, key=KEY), MODEL, TEXTS)
    assert counts.counts == WORDS
    assert {r.headers["authorization"] for r in fake.requests} == {f"Bearer {KEY}"}
    fake.tokenize_delay_seconds = 3.0  # and a failure, whose line must not carry it either
    await tokenizer.count(at(fake.base_url, key=KEY), MODEL, ("another text",))
    assert "token count at 127.0.0.1" in caplog.text
    assert KEY not in caplog.text
    assert KEY[-8:] not in caplog.text


async def test_wrong_key_falls_back_without_forgetting(
    tokenizer: EndpointTokenizer, fake: FakeOpenAI
) -> None:
    """A 401 is not "no tokenizer": estimate now, the endpoint is probed again later."""
    fake.required_api_key = KEY
    counts = await tokenizer.count(at(fake.base_url, key="sk-wrong-key-000000"), MODEL, TEXTS)
    assert counts == estimate(TEXTS)
    assert tokenize_calls(fake) == 1  # a 401 stops the probe: the next route is not tried


async def test_untrusted_loopback_is_refused_by_the_guard_and_estimated(
    fake: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    """With private endpoints not allowed a chat-set 127.0.0.1 is never reached: no exception."""
    caplog.set_level(logging.INFO)
    async with build_guarded_http_client(EndpointPolicy(), TIMEOUTS) as strict:
        tokenizer = EndpointTokenizer(strict)
        counts = await tokenizer.count(at(fake.base_url, key=KEY), MODEL, TEXTS)
    assert counts == estimate(TEXTS)
    assert fake.requests == []
    assert "endpoint guard refused it" in caplog.text


async def test_trusted_connection_uses_the_trusted_client(fake: FakeOpenAI) -> None:
    """The operator's endpoint goes through `trusted_http`, which the guard does not bind."""
    async with (
        build_guarded_http_client(EndpointPolicy(), TIMEOUTS) as strict,
        build_http_client(TIMEOUTS) as trusted,
    ):
        tokenizer = EndpointTokenizer(strict, trusted_http=trusted)
        counts = await tokenizer.count(at(fake.base_url, trusted=True), MODEL, TEXTS)
    assert counts.counts == WORDS


async def test_memory_is_bounded(guarded: httpx.AsyncClient, fake: FakeOpenAI) -> None:
    """Past `remembered` endpoints the oldest is forgotten and probed again."""
    fake.tokenize_enabled = False
    tokenizer = EndpointTokenizer(guarded, remembered=2)
    for model in ("a", "b", "a", "c", "a", "b"):
        await tokenizer.count(at(fake.base_url), model, TEXTS)
    assert len(fake.requests) == 2 * 4  # a, b, c, then b again (a was used more recently)


def counting_transport(
    seen: list[str], *, fail_on: str | None = None, delay: float = 0.01
) -> tuple[httpx.MockTransport, list[int]]:
    """A llama.cpp-ish transport recording the texts and the most requests in flight at once."""
    in_flight = [0, 0]  # now, most

    async def handle(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["content"]
        in_flight[0] += 1
        in_flight[1] = max(in_flight)
        try:
            await asyncio.sleep(delay)
        finally:
            in_flight[0] -= 1
        seen.append(text)
        if text == fail_on:
            return httpx.Response(500, json={"error": {"message": "boom"}})
        return httpx.Response(200, json={"tokens": fake_token_ids(text)})

    return httpx.MockTransport(handle), in_flight


async def test_texts_are_counted_a_few_at_a_time() -> None:
    """At most `concurrency` requests are in flight; the counts keep the texts' order."""
    seen: list[str] = []
    transport, in_flight = counting_transport(seen)
    texts = tuple(" ".join(["w"] * n) for n in range(1, 11))
    async with httpx.AsyncClient(transport=transport) as http:
        counts = await EndpointTokenizer(http, concurrency=3).count(at("http://x/v1"), MODEL, texts)
    assert counts.counts == tuple(range(1, 11))
    assert 1 < in_flight[1] <= 3


async def test_one_failed_text_makes_every_count_an_estimate() -> None:
    """Counts of one call never mix tokenizers: a 500 for one text estimates them all."""
    seen: list[str] = []
    transport, _ = counting_transport(seen, fail_on="boom")
    texts = ("one two", "boom", "three four five")
    async with httpx.AsyncClient(transport=transport) as http:
        counts = await EndpointTokenizer(http).count(at("http://x/v1"), MODEL, texts)
    assert counts == estimate(texts)
    assert isinstance(counts, TokenCounts)
