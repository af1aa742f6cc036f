"""A 404 that is about the path, not a model, names the text-completion switch."""

from __future__ import annotations

import pytest

from bot.core.errors import user_message
from bot.llm.refusals import provider_said, status_error


@pytest.mark.parametrize(
    "body",
    [
        b'{"detail": "Not Found"}',  # FastAPI: vLLM, TabbyAPI, text-generation-webui
        b'{"error": {"message": "File Not Found", "type": "not_found_error", "code": 404}}',
        b"404 page not found",  # Go (Ollama): not JSON, so no words at all
        b'{"error": {"message": "Cannot POST /v1/chat/completions"}}',  # Express proxies
        b'{"error": {"message": "Unknown path POST /v1/chat/completions"}}',
    ],
)
def test_a_missing_chat_route_names_text_completion(body: bytes) -> None:
    """No chat route at this address: the base URL, or /api type:text for a text-only server."""
    said = user_message(status_error(404, provider_said(body)))
    assert "/api type:text" in said
    assert "/v1" in said


@pytest.mark.parametrize(
    "body",
    [
        b'{"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}}',
        b'{"error": {"message": "model \\"llama9\\" not found, try pulling it first"}}',
    ],
)
def test_a_missing_model_is_not_taken_for_a_missing_route(body: bytes) -> None:
    """A 404 that names the model keeps the model hint, without the text-completion switch."""
    said = user_message(status_error(404, provider_said(body)))
    assert "model" in said
    assert "/api type:text" not in said


def test_a_missing_completions_route_names_chat() -> None:
    """In text mode, a server without /completions is pointed to /api type:chat."""
    body = b'{"error": {"message": "Cannot POST /v1/completions"}}'
    assert "/api type:chat" in user_message(status_error(404, provider_said(body)))


def test_a_missing_models_route_names_only_the_base_url() -> None:
    """The /connect probe's 404 on /models says nothing of chat or text mode."""
    body = b'{"error": {"message": "Unknown path GET /v1/models"}}'
    said = user_message(status_error(404, provider_said(body)))
    assert said.startswith("The endpoint does not serve that path.")
    assert "/v1" in said
    assert "/api" not in said
