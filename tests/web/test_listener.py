"""/healthz, /readyz and /metrics over real HTTP, the metrics read after turns that really ran."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Stores, build_service, platform_pacing, sql_stores
from bot.core.clock import SystemClock
from bot.core.domain import (
    ChannelKey,
    Connection,
    Incoming,
    MessageStatus,
    PlatformLimits,
    TurnOutcome,
)
from bot.llm.client import OpenAICompatClient, build_http_client
from bot.llm.deadline import StreamTimeouts
from bot.service.conversations import ConversationService
from bot.service.turns.prompting import Budget
from bot.service.turns.tokens import EstimatingCounter
from bot.storage.db import create_engine, create_sessions
from bot.storage.store import SqlStore
from bot.web.listener import SHUTTING_DOWN, OpsListener
from bot.web.metrics import Metrics
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.recording_replier import RecordingReplier
from tests.service.conftest import NoDownloads

TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=5.0, idle_seconds=5.0, total_seconds=10.0
)
ROOMY = PlatformLimits(max_length=2000, writes_per_window=1000, window_seconds=1.0)
"""Limits that never make a real-time test wait for a write slot."""
CHANNEL = ChannelKey("telegram", "-100123")


async def ready() -> bool:
    return True


async def not_connected() -> bool:
    return False


async def broken() -> bool:
    raise RuntimeError("a check with a bug, https://user:secret@example/")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as client:
        yield client


def url(listener: OpsListener, path: str) -> str:
    return f"http://127.0.0.1:{listener.port}{path}"


async def test_healthz_answers_while_the_process_runs(http: httpx.AsyncClient) -> None:
    """Alive needs nothing else to be up: not ready still answers healthz with 200."""
    async with OpsListener(checks={"database": not_connected}) as listener:
        answer = await http.get(url(listener, "/healthz"))
    assert answer.status_code == 200


async def test_readyz_is_200_when_every_check_passes(http: httpx.AsyncClient) -> None:
    """Every named check passed: ready, and nothing listed as not ready."""
    async with OpsListener(checks={"database": ready, "telegram": ready}) as listener:
        answer = await http.get(url(listener, "/readyz"))
    assert answer.status_code == 200
    assert answer.json() == {"ready": True, "not_ready": []}


async def test_readyz_names_each_failing_check_and_no_error_text(http: httpx.AsyncClient) -> None:
    """A check that says no and one that raises are both named; the error's text is not."""
    checks = {"database": ready, "discord": not_connected, "telegram": broken}
    async with OpsListener(checks=checks) as listener:
        answer = await http.get(url(listener, "/readyz"))
    assert answer.status_code == 503
    assert answer.json() == {"ready": False, "not_ready": ["discord", "telegram"]}
    assert "secret" not in answer.text


async def test_a_check_that_hangs_is_not_ready(http: httpx.AsyncClient) -> None:
    """A check slower than its timeout counts as not ready instead of hanging the probe."""
    never = asyncio.Event()

    async def hangs() -> bool:
        await never.wait()
        return True

    async with OpsListener(checks={"database": hangs}, check_timeout_seconds=0.1) as listener:
        answer = await http.get(url(listener, "/readyz"))
    assert answer.status_code == 503
    assert answer.json()["not_ready"] == ["database"]


async def test_readyz_is_503_once_shutting_down(http: httpx.AsyncClient) -> None:
    """However healthy the parts, a shutting-down process takes no new work."""
    async with OpsListener(checks={"database": ready}) as listener:
        assert (await http.get(url(listener, "/readyz"))).status_code == 200
        listener.shutting_down()
        answer = await http.get(url(listener, "/readyz"))
        alive = await http.get(url(listener, "/healthz"))
    assert answer.status_code == 503
    assert answer.json()["not_ready"] == [SHUTTING_DOWN]
    assert alive.status_code == 200


async def test_readyz_is_503_while_the_database_is_down(http: httpx.AsyncClient) -> None:
    """The store's ping against a PostgreSQL port where nothing listens: not ready."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = create_engine(f"postgresql+asyncpg://parlor:pw@127.0.0.1:{port}/parlor")
    store = SqlStore(create_sessions(engine), secret_box=None)
    try:
        async with OpsListener(checks={"database": store.ping}) as listener:
            answer = await http.get(url(listener, "/readyz"))
    finally:
        await engine.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"ready": False, "not_ready": ["database"]}


async def test_readyz_is_200_while_the_database_answers(
    http: httpx.AsyncClient, migrated_sqlite_url: str
) -> None:
    """The same check against a database that answers: ready."""
    engine = create_engine(migrated_sqlite_url)
    store = SqlStore(create_sessions(engine), secret_box=None)
    try:
        async with OpsListener(checks={"database": store.ping}) as listener:
            answer = await http.get(url(listener, "/readyz"))
    finally:
        await engine.dispose()
    assert answer.status_code == 200


async def test_metrics_are_served_in_prometheus_text(http: httpx.AsyncClient) -> None:
    """The content type and families a scraper expects, OpenMetrics when it asks; 404 when
    metrics are off."""
    async with OpsListener(metrics=Metrics()) as listener:
        answer = await http.get(url(listener, "/metrics"))
        accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
        open_metrics = await http.get(url(listener, "/metrics"), headers=accept)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(answer.text)}
    assert {"parlor_turns", "parlor_queue_depth", "parlor_first_token_seconds"} <= names
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.endswith("# EOF\n")
    async with OpsListener() as listener:
        assert (await http.get(url(listener, "/metrics"))).status_code == 404


async def test_another_route_is_one_more_entry(http: httpx.AsyncClient) -> None:
    """A later listener's job (Telegram's webhook) is added as a route, beside the probes."""

    async def hook(request: web.Request) -> web.Response:
        return web.Response(text="got it")

    async with OpsListener(routes=[web.post("/telegram/hook", hook)]) as listener:
        answer = await http.post(url(listener, "/telegram/hook"))
    assert answer.text == "got it"


async def test_the_listener_binds_loopback_by_default() -> None:
    """Unless told otherwise, only this machine can reach it."""
    async with OpsListener() as listener:
        with socket.create_connection(("127.0.0.1", listener.port), timeout=5.0):
            pass
        assert listener.port > 0


# Metrics read after turns that ran through the service, a real client and the fake endpoint.


@pytest.fixture
async def stores(migrated_sqlite_url: str) -> AsyncIterator[Stores[SqlStore]]:
    engine = create_engine(migrated_sqlite_url)
    yield sql_stores(create_sessions(engine), secret_box=None)
    await engine.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeOpenAI]:
    async with FakeOpenAI() as server:
        server.token_interval_seconds = 0.0
        yield server


def metered_turns(
    stores: Stores[SqlStore],
    client: OpenAICompatClient,
    default: Connection | None,
    metrics: Metrics,
) -> ConversationService:
    """The application's own wiring, with the metrics as its telemetry."""
    clock = SystemClock()
    return build_service(
        stores,
        client=client,
        fetcher=NoDownloads(),
        clock=clock,
        pacing=platform_pacing(clock, observer=metrics),
        token_counter=EstimatingCounter(),
        budget=Budget(),
        wall_clock=lambda: datetime(2026, 12, 1, tzinfo=UTC),
        queue_size=3,
        default_connection=default,
        telemetry=metrics,
    )


def sample(families: str, name: str, **labels: str) -> float:
    """One sample's value from a scrape; 0 when the series is absent."""
    for family in text_string_to_metric_families(families):
        for found in family.samples:
            if found.name == name and found.labels == labels:
                return float(found.value)
    return 0.0


async def test_metrics_after_two_turns_and_an_endpoint_error(
    http: httpx.AsyncClient, fake: FakeOpenAI, stores: Stores[SqlStore]
) -> None:
    """Two replies (one of them paused once by a 429) and a 500 from the endpoint: the
    counters, tokens and histograms say so, and no channel id or model name shows."""
    metrics = Metrics()
    async with build_http_client(TIMEOUTS) as endpoint_http:
        client = OpenAICompatClient(endpoint_http, timeouts=TIMEOUTS)
        default = Connection(fake.base_url, model="fake-model", trusted=True)
        turns = metered_turns(stores, client, default, metrics)
        outcomes: list[TurnOutcome] = []
        script = [("one two three", "echo"), ("four five", "echo"), ("x", "server_error")]
        for text, scenario in script:
            fake.default_scenario = scenario
            replier = RecordingReplier(SystemClock(), limits=ROOMY)
            if not outcomes:  # the first reply's placeholder meets a 429 once
                replier.fail_next(1, retry_after=0.01)
            incoming = Incoming(CHANNEL, author_id="ann", author_name="Ann", text=text)
            outcomes.append(await turns.handle(incoming, replier))
    assert [o.status for o in outcomes] == [
        MessageStatus.COMPLETE,
        MessageStatus.COMPLETE,
        MessageStatus.ERROR,
    ]
    async with OpsListener(metrics=metrics) as listener:
        scraped = (await http.get(url(listener, "/metrics"))).text

    tg = {"platform": "telegram"}
    complete = sample(scraped, "parlor_turns_total", **tg, status="complete", cause="none")
    failed = sample(
        scraped, "parlor_turns_total", **tg, status="error", cause="EndpointRejected 500"
    )
    assert (complete, failed) == (2.0, 1.0)
    assert sample(scraped, "parlor_endpoint_errors_total", cause="EndpointRejected 500") == 1.0
    # The fake reports 7 prompt tokens a reply and one completion token a word it streams
    # ("You said: one two three" is 5).
    words = sum(len(outcome.content.split()) for outcome in outcomes)
    assert words == 9
    assert sample(scraped, "parlor_prompt_tokens_total", **tg, source="endpoint") == 14.0
    assert sample(scraped, "parlor_completion_tokens_total", **tg, source="endpoint") == words
    assert sample(scraped, "parlor_prompt_tokens_total", **tg, source="estimated") == 0.0
    assert sample(scraped, "parlor_first_token_seconds_count", **tg) == 2.0
    assert sample(scraped, "parlor_reply_duration_seconds_count", **tg) == 3.0
    assert sample(scraped, "parlor_reply_duration_seconds_bucket", **tg, le="+Inf") == 3.0
    assert sample(scraped, "parlor_platform_rate_limits_total", **tg) == 1.0
    assert sample(scraped, "parlor_platform_write_retries_total", **tg) == 1.0
    assert CHANNEL.external_id not in scraped
    assert "fake-model" not in scraped


async def test_a_turn_that_fails_before_its_reply_is_counted_once(
    fake: FakeOpenAI, stores: Stores[SqlStore]
) -> None:
    """No endpoint configured: the turn fails while it is prepared, and counts as one
    failed turn with its cause, but as no reply duration and no endpoint error."""
    metrics = Metrics()
    async with build_http_client(TIMEOUTS) as endpoint_http:
        client = OpenAICompatClient(endpoint_http, timeouts=TIMEOUTS)
        turns = metered_turns(stores, client, None, metrics)
        incoming = Incoming(CHANNEL, author_id="ann", author_name="Ann", text="hello")
        outcome = await turns.handle(incoming, RecordingReplier(SystemClock(), limits=ROOMY))
    assert outcome.status is MessageStatus.ERROR
    body, _ = metrics.exposition()
    scraped = body.decode()
    counted = [line for line in scraped.splitlines() if line.startswith("parlor_turns_total{")]
    labels = 'cause="UsageError",platform="telegram",status="error"'
    assert counted == [f"parlor_turns_total{{{labels}}} 1.0"]
    assert sample(scraped, "parlor_reply_duration_seconds_count", platform="telegram") == 0.0
    assert "parlor_endpoint_errors_total{" not in scraped
