"""Role-order refusals are recognised by what they are about, in every server's words."""

from __future__ import annotations

import json

import pytest

from bot.core.errors import RoleOrderRejected
from bot.llm.refusals import provider_said, status_error


def _openai(message: str, **fields: object) -> bytes:
    return json.dumps({"error": {"message": message, **fields}}).encode()


def _flat(message: str, kind: str, code: object) -> bytes:
    return json.dumps({"object": "error", "message": message, "type": kind, "code": code}).encode()


ROLE_ORDER_REFUSALS = [
    # vLLM with a Mistral/Llama 2 chat template (vllm-project/vllm#6862)
    (
        400,
        _flat(
            "Conversation roles must alternate user/assistant/user/assistant/...",
            "BadRequestError",
            400,
        ),
    ),
    (
        400,
        _openai(
            "After the optional system message, conversation roles must alternate "
            "user/assistant/user/assistant/...",
            type="BadRequestError",
            code=400,
        ),
    ),
    # llama.cpp's server, the Jinja template raising (500 for an exception in the template)
    (
        500,
        _openai(
            "Jinja Exception: Conversation roles must alternate user/assistant/user/assistant",
            type="server_error",
            code=500,
        ),
    ),
    (400, _openai("System role not supported", type="invalid_request_error", code=400)),
    (400, _openai("No user query found in messages.", type="invalid_request_error", code=400)),
    (
        400,
        _openai(
            "Cannot have 2 or more assistant messages at the end of the list.",
            type="invalid_request_error",
            code=400,
        ),
    ),
    # Mistral's API
    (
        400,
        _flat("Unexpected role 'user' after role 'user'", "invalid_request_message_order", "3230"),
    ),
    (
        400,
        _flat(
            "Expected last role User or Tool (or Assistant with prefix True) for serving but "
            "got assistant",
            "invalid_request_message_order",
            "3230",
        ),
    ),
    (400, _flat("First message must be from the user", "invalid_request_error", "3001")),
    # Gemini's OpenAI layer, and OpenRouter relaying a provider's words
    (
        400,
        _openai("Please ensure that multiturn requests alternate between user and model."),
    ),
    (
        400,
        _openai(
            "Provider returned error",
            code=400,
            metadata={
                "raw": json.dumps(
                    {
                        "error": {
                            "message": "Please ensure that single turn requests end with a "
                            "user role or the role field is empty."
                        }
                    }
                ),
                "provider_name": "Google AI Studio",
            },
        ),
    ),
    # Anthropic through a proxy (LiteLLM, OpenRouter)
    (400, _openai('messages: first message must use the "user" role')),
    (
        400,
        _openai(
            'messages: roles must alternate between "user" and "assistant", but found '
            'multiple "user" roles in a row'
        ),
    ),
    # TabbyAPI (FastAPI) with a template that insists on a user turn first
    (400, json.dumps({"detail": "Conversation must start with a user message"}).encode()),
    (422, json.dumps({"detail": "The first message must be from the user."}).encode()),
    # DeepSeek, Perplexity, and a template's own raise
    (
        400,
        _openai(
            "deepseek-reasoner does not support successive user or assistant messages "
            "(messages[1] and messages[2] in your input). You should interleave the "
            "user/assistant messages in the message sequence.",
            type="invalid_request_error",
        ),
    ),
    (
        400,
        _openai(
            "After the (optional) system message(s), user and assistant roles should be "
            "alternating.",
            type="invalid_message",
        ),
    ),
    (400, _openai("System message must be at the beginning.")),
    (400, _openai("Only user and assistant roles are supported!")),
    (400, _openai("Expected the first message to have the user role, got assistant")),
]


@pytest.mark.parametrize(("status", "body"), ROLE_ORDER_REFUSALS)
def test_role_order_refusals_are_recognised(status: int, body: bytes) -> None:
    """Each server's way of refusing the roles or their order is a role-order refusal."""
    error = status_error(status, provider_said(body))
    assert isinstance(error, RoleOrderRejected)
    assert "/postprocess" in error.hint


OTHER_REFUSALS = [
    (
        400,
        _openai("'messages' must contain the word 'json' in some form, to use 'response_format'"),
    ),
    (400, _openai("Invalid 'messages': empty array. Expected an array with minimum length 1")),
    (
        400,
        _openai(
            "Invalid 'messages[1].content': string too long. Expected a string with maximum "
            "length 1048576, but got a string with length 2000000 instead."
        ),
    ),
    (400, _openai("Invalid 'user': string too long. Expected a string with maximum length 256")),
    (400, _openai("max_tokens must be at least 1, got -5.", type="BadRequestError")),
    (400, _openai("temperature must be between 0 and 2; got 3 for the first request")),
    (400, _openai("The assistant message must not be empty")),
    (
        400,
        _openai(
            "The response was filtered due to the prompt triggering Azure OpenAI's content "
            "management policy. Please modify your prompt and retry."
        ),
    ),
    (
        429,
        _openai(
            "Rate limit reached for user org-abc on requests per min. Please try again after "
            "20s. Visit the first page of our docs."
        ),
    ),
    (401, _openai("The user must provide an API key first in the Authorization header")),
    (404, _openai("The model `user-first-model` does not exist")),
    (
        400,
        _openai(
            "This model's maximum context length is 4096 tokens. However, your messages "
            "resulted in 5000 tokens. Please reduce the length of the messages, starting "
            "with the first user message."
        ),
    ),
    (400, _openai("Assistant response prefill is incompatible with enable_thinking.")),
]


@pytest.mark.parametrize(("status", "body"), OTHER_REFUSALS)
def test_other_refusals_are_not_taken_for_role_order(status: int, body: bytes) -> None:
    """A refusal about something else is not retried with stricter post-processing."""
    error = status_error(status, provider_said(body))
    assert not isinstance(error, RoleOrderRejected)
