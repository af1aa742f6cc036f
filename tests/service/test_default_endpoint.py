"""The start-up check of DEFAULT_BASE_URL / DEFAULT_MODEL: repaired as /connect repairs,
probed for /models, one line saying what was found, and never a reason to stop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

import pytest

from bot.core.domain import Completion, CompletionRequest, Connection, Delta, Secret
from bot.core.errors import EndpointRejected, EndpointUnreachable
from bot.service.default_endpoint import check_default_endpoint
from tests.fakes.openai.scripted_client import ScriptedClient

NOT_FOUND = EndpointRejected("not found", status_code=404)
DOWN = EndpointUnreachable("Couldn't reach the endpoint (connection refused).")


def operator(url: str, model: str | None = None, key: str | None = None) -> Connection:
    return Connection(url, model=model, api_key=Secret(key) if key else None, trusted=True)


@pytest.mark.parametrize(
    ("configured", "answering"),
    [
        ("http://llm:8080", "http://llm:8080/v1"),  # /v1 left out
        ("http://llm:8080/v1/chat/completions", "http://llm:8080/v1"),  # endpoint pasted
        ("HTTP://LLM:8080/v1/", "http://llm:8080/v1"),  # case and slash
        ("http://llm:8080/v1/models", "http://llm:8080/v1"),
    ],
)
async def test_the_url_is_repaired_and_the_repair_is_said(
    configured: str, answering: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = ScriptedClient(models=["local-model"])
    client.models_at = {"http://llm:8080": NOT_FOUND}
    with caplog.at_level(logging.INFO, logger="bot.service.default_endpoint"):
        check = await check_default_endpoint(operator(configured, "local-model"), client)
    assert check.connection.base_url == answering
    assert check.connection.trusted  # still the operator's own endpoint
    assert check.healthy
    assert [r.getMessage() for r in caplog.records] == [check.summary]
    assert check.summary.startswith(f"DEFAULT_BASE_URL {configured.lower()} -> using {answering} (")


async def test_a_url_that_already_answers_is_left_alone() -> None:
    client = ScriptedClient(models=["m"])
    check = await check_default_endpoint(operator("https://api.example.com/v1", "m"), client)
    assert check.connection.base_url == "https://api.example.com/v1"
    assert (
        check.summary
        == "DEFAULT_BASE_URL https://api.example.com/v1: answers; DEFAULT_MODEL m is listed"
    )
    assert [c.base_url for c in client.models_asked] == ["https://api.example.com/v1"]


async def test_the_key_goes_with_the_probe_and_never_into_the_line() -> None:
    client = ScriptedClient(models=["m"])
    check = await check_default_endpoint(
        operator("http://llm:8080/v1", "m", key="sk-start-check"), client
    )
    assert client.models_asked[0].api_key == Secret("sk-start-check")
    assert "sk-start-check" not in check.summary


@pytest.mark.parametrize(
    "url",
    ["https://user:hunter2@proxy.example/v1", "https://llm.example.azure.com/openai?api-version=1"],
)
async def test_what_chats_may_not_use_the_operator_may_and_it_is_not_shown(url: str) -> None:
    """A proxy's login or a query stays (the operator's endpoint is trusted), is probed as
    written with nothing added, and never reaches the log line."""
    client = ScriptedClient(models=["m"])
    check = await check_default_endpoint(operator(url, "m"), client)
    assert check.healthy
    assert check.connection.base_url == url
    assert [c.base_url for c in client.models_asked] == [url]
    assert "hunter2" not in check.summary
    assert "api-version" not in check.summary


@pytest.mark.parametrize(
    ("model", "models", "says"),
    [
        ("llama-3-8b", ["llama-3-8b-instruct", "qwen2.5-7b"], "close: llama-3-8b-instruct"),
        ("gpt-5", ["a", "b"], "it lists a, b"),
        (None, ["a", "b", "c", "d", "e", "f", "g"], "a, b, c, d, e and 2 more"),
        (None, [], "it lists no models"),
    ],
)
async def test_a_model_problem_is_a_warning_naming_what_is_there(
    model: str | None, models: list[str], says: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = ScriptedClient(models=models)
    with caplog.at_level(logging.INFO, logger="bot.service.default_endpoint"):
        check = await check_default_endpoint(operator("http://llm:8080/v1", model), client)
    assert not check.healthy
    assert says in check.summary
    assert caplog.records[0].levelno == logging.WARNING


async def test_one_model_needs_no_default_model() -> None:
    client = ScriptedClient(models=["only-one"])
    check = await check_default_endpoint(operator("http://llm:8080/v1"), client)
    assert check.healthy
    assert "one model, only-one" in check.summary


@pytest.mark.parametrize(
    ("failure", "says"),
    [
        (DOWN, "could not list its models (Couldn't reach the endpoint"),
        (EndpointRejected("Unauthorized", status_code=401), "refused DEFAULT_API_KEY"),
        (EndpointRejected("Forbidden", status_code=403), "refused DEFAULT_API_KEY"),
        (EndpointRejected("Internal Server Error", status_code=500), "could not list its models"),
    ],
)
async def test_an_endpoint_that_does_not_answer_is_used_as_configured(
    failure: Exception, says: str
) -> None:
    client = ScriptedClient()
    client.models_at = {"http://llm:8080/v1": failure}
    check = await check_default_endpoint(operator("http://llm:8080/v1", "m"), client)
    assert not check.healthy
    assert check.connection.base_url == "http://llm:8080/v1"
    assert says in check.summary


class _Silent(ScriptedClient):
    """An endpoint that accepts the connection and never answers."""

    async def models(self, connection: Connection) -> list[str]:
        await asyncio.Event().wait()
        return []

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        raise AssertionError("not asked")
        yield Delta()  # pragma: no cover

    async def complete(self, request: CompletionRequest) -> Completion:
        raise AssertionError("not asked")


async def test_a_silent_endpoint_delays_the_start_only_as_long_as_the_check_may() -> None:
    check = await check_default_endpoint(
        operator("http://llm:8080/v1", "m"), _Silent(), within=0.05
    )
    assert not check.healthy
    assert "no answer within" in check.summary
    assert check.connection.base_url == "http://llm:8080/v1"
