"""Backend quirks: how particular servers say what went wrong, one small function each.

Each function names the fact it answers and where it is documented or was seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.core.errors import (
    EndpointRejected,
    EndpointStreamError,
    ImagesRejected,
    MaxTokensFieldRejected,
)
from bot.llm import role_order


@dataclass(frozen=True, slots=True)
class ProviderSaid:
    """What an endpoint's error body said, in words fit for a user (never the raw body).

    Plain data read from a refusal, not an exception: `status_error` turns it into one.
    """

    message: str = ""
    code: str = ""


MAX_TOKENS = "max_tokens"
MAX_COMPLETION_TOKENS = "max_completion_tokens"


def rejected_max_tokens_field(status: int, said: ProviderSaid) -> str | None:
    """The other max-tokens field to try, when a 400 says the one we sent is not accepted.

    OpenAI's newer models answer "Unsupported parameter: 'max_tokens' … Use
    'max_completion_tokens' instead"; servers that predate the new name reject it as
    unknown. The field named first is the refused one.
    """
    text = said.message.lower()
    if status != 400 or not any(word in text for word in _REFUSAL_WORDS):
        return None
    named = [(text.find(f), f) for f in (MAX_TOKENS, MAX_COMPLETION_TOKENS) if f in text]
    if not named:
        return None
    refused = min(named)[1]
    return MAX_COMPLETION_TOKENS if refused == MAX_TOKENS else MAX_TOKENS


def max_tokens_field_refused(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """A 400 refusing the reply-length field we sent; the service retries once with the other."""
    use_field = rejected_max_tokens_field(status, said)
    if use_field is None:
        return None
    return MaxTokensFieldRejected(
        "the endpoint does not accept the reply-length field we sent",
        status_code=status,
        provider_message=said.message or f"HTTP {status}",
        use_field=use_field,
    )


_REFUSAL_WORDS = (
    "unsupported",
    "not supported",
    "unrecognized",
    "unknown",
    "not permitted",
    "extra",
    "invalid",
)


# --- Backend quirks ------------------------------------------------------------------------
# One small function per fact about real servers, named for what it recognises. Each comment
# says what the servers do and where that is documented or was seen. The status quirks return
# None when an answer is not theirs; `status_error` asks them in the order of `QUIRKS`.

Quirk = Callable[[int, ProviderSaid], EndpointRejected | None]


def out_of_credit(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """An account with no money left: retrying or waiting will not help."""
    # OpenAI: 429 with code `insufficient_quota`. DeepSeek: "402 - Insufficient Balance"
    # (api-docs.deepseek.com/quick_start/error_codes); OpenRouter: "402: Your account or API
    # key has insufficient credits" (openrouter.ai/docs/api/errors); Mistral also uses 402.
    if said.code != "insufficient_quota" and status != 402:
        return None
    return _rejected(
        status,
        said,
        "the account behind this key is out of credit or quota",
        "add credit to the account or use another key",
    )


def context_overflow(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """The conversation (plus the reply length) does not fit in the model's context."""
    # OpenAI and llama-cpp-python: code `context_length_exceeded` (llama-cpp-python says
    # "Requested tokens (N) exceed context window of M"); llama.cpp's server: type
    # `exceed_context_size_error`, "the request exceeds the available context size";
    # vLLM: "This model's maximum context length is N tokens. However, you requested …".
    text = said.message.lower()
    if said.code not in _OVERFLOW_CODES and not any(words in text for words in _OVERFLOW_WORDS):
        return None
    return _rejected(
        status,
        said,
        "the conversation is too long for the model's context",
        "start a new conversation with /reset, lower max tokens in /params, "
        "or give the server a larger context",
    )


_OVERFLOW_CODES = ("context_length_exceeded", "exceed_context_size_error")
_OVERFLOW_WORDS = (
    "maximum context length",
    "exceed context window",
    "exceeds the available context size",
)


def role_order_refused(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """The endpoint refuses the roles or their order: alternation, who speaks first or last."""
    # Recognised by what the words are about, not by a list of them (role_order.py).
    return role_order.refusal(status, said.message, said.code)


def images_refused(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """The model takes no images: a message carried an image_url part it cannot read."""
    # llama.cpp without a projector: 500 "image input is not supported - hint: … provide the
    # mmproj"; OpenAI: 400 "Invalid content type. image_url is only supported by certain
    # models"; vLLM: 400 "… is not a multimodal model"; Mistral and LM Studio: "… does not
    # support images/vision".
    text = said.message.lower()
    if status < 400 or not any(words in text for words in _IMAGE_WORDS):
        return None
    return ImagesRejected(
        "the model can't read images",
        status_code=status,
        provider_message=said.message or f"HTTP {status}",
        hint="choose a vision model with /model to talk about pictures",
    )


_IMAGE_WORDS = (
    "image input is not supported",
    "mmproj",
    "image_url is only supported",
    "not a multimodal model",
    "does not support image",
    "does not support vision",
    "vision is not supported",
    "images are not supported",
    "multimodal input is not supported",
)


def key_missing(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """A 401 that says no key arrived at all (rather than a wrong one)."""
    # TabbyAPI: 401 {"detail": "Please provide an API key"} (theroyallab/tabbyAPI
    # common/auth.py); OpenRouter: "No auth credentials found"; OpenAI: "You didn't
    # provide an API key".
    text = said.message.lower()
    if status != 401 or not any(words in text for words in _KEY_MISSING_WORDS):
        return None
    return _rejected(
        status,
        said,
        "the endpoint needs an API key",
        "add the endpoint's key with /connect … api_key:<key>",
    )


_KEY_MISSING_WORDS = ("provide an api key", "no auth credentials", "api key is missing")


def unknown_model_refused(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """A 400 naming the model as unknown (a 404's own words already mention the model)."""
    # Mistral: 400 {"object": "error", "message": "Invalid model: <id>", "type":
    # "invalid_model", "code": "1500"} (mistralai/mistral-vibe#617); OpenRouter: 400
    # "<id> is not a valid model ID" (OpenRouterTeam/openrouter-examples#74).
    text = said.message.lower()
    if status != 400 or not (said.code == "invalid_model" or "not a valid model id" in text):
        return None
    return _rejected(
        status,
        said,
        "the endpoint does not know that model",
        "check the model name; /models lists the ones it offers",
    )


def validation_refused(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """FastAPI's 422: a field of the request has a type or value the server will not take."""
    # text-generation-webui, TabbyAPI and llama-cpp-python answer 422 with
    # {"detail": [{"loc": […], "msg": …}]}, FastAPI's validation-error body; DeepSeek documents
    # "422 - Invalid Parameters". Our own fields are well-formed, so the culprit is usually
    # a sampling parameter or an extra body field the user set.
    if status != 422:
        return None
    return _rejected(
        status,
        said,
        "the endpoint refused a value in the request (HTTP 422)",
        "check the sampling parameters (/params) and the extra body (/extras)",
    )


def path_not_found(status: int, said: ProviderSaid) -> EndpointRejected | None:
    """A 404 that is not about a model: the server has no such route at this base URL."""
    # A server without the route answers in its framework's words: FastAPI {"detail": "Not
    # Found"} (vLLM, TabbyAPI, text-generation-webui), llama.cpp "File Not Found", Go's "404
    # page not found" (Ollama), Express "Cannot POST /v1/chat/completions". A model it lacks
    # is named instead ("The model `x` does not exist", 'model "x" not found'). Servers for
    # base models (and some proxies) have /completions only, so a chat request finds nothing.
    text = said.message.lower()
    if status != 404 or "model" in re.sub(r"/\S*", "", text):  # a path may hold "/models"
        return None
    if "/models" in text:  # the /connect probe: which mode it will chat in is not known yet
        hint = "check the base URL ends with /v1"
    elif "/completions" in text and "chat/completions" not in text:
        hint = "check the base URL ends with /v1; a server that only does chat needs /api type:chat"
    else:
        hint = (
            "check the base URL ends with /v1; if the server only does text completion "
            "(/completions), /api type:text switches this channel to it"
        )
    return _rejected(status, said, "the endpoint does not serve that path", hint)


QUIRKS: tuple[Quirk, ...] = (
    out_of_credit,
    images_refused,
    context_overflow,  # before the max-tokens refusal: vLLM's overflow text names max_tokens
    max_tokens_field_refused,
    role_order_refused,
    key_missing,
    unknown_model_refused,
    validation_refused,
    path_not_found,
)
"""The status quirks, in the order `status_error` asks them (the first that knows wins)."""


def unknown_path_answered_ok(said: str) -> EndpointRejected | None:
    """A 200 whose error says the path does not exist: the base URL is missing /v1."""
    # LM Studio answers any path it does not serve with HTTP 200 and {"error": "Unexpected
    # endpoint or method. (POST /chat/completions)"} (lmstudio-ai/lmstudio-bug-tracker#618),
    # so a base URL without /v1 looks alive until something reads the body.
    if "unexpected endpoint or method" not in said.lower():
        return None
    return EndpointRejected(
        "the endpoint does not serve that path",
        status_code=200,
        provider_message=said,
        hint="check the base URL ends with /v1",
    )


def empty_stream_error() -> EndpointStreamError:
    """A streamed reply that ended before its first event."""
    # llama-cpp-python answers a prompt longer than its context, when streaming, with 200
    # text/event-stream and an empty body (its handler fails after the headers went out;
    # verified with llama-cpp-python 0.3.36); the same request unstreamed gets
    # 400 context_length_exceeded. So an empty stream most likely means an overflow.
    return EndpointStreamError(
        "the endpoint closed the stream without a reply",
        hint="the conversation may be too long for the model's context: /reset starts a new "
        "one; otherwise try again",
    )


def upstream_message(error: dict[str, Any]) -> str:
    """The upstream provider's own message inside a router's generic one, or ""."""
    # OpenRouter relays a provider's refusal as {"message": "Provider returned error",
    # "metadata": {"raw": "<the provider's JSON body, as a string>", "provider_name": …}}
    # (seen in charmbracelet/crush#279); the useful words are inside `raw`.
    metadata = error.get("metadata")
    raw = metadata.get("raw") if isinstance(metadata, dict) else None
    if not isinstance(raw, str):
        return ""
    try:
        inner = json.loads(raw)
    except (ValueError, RecursionError):
        return ""
    if not isinstance(inner, dict):
        return ""
    nested = inner.get("error")
    said = nested.get("message") if isinstance(nested, dict) else inner.get("message")
    if not isinstance(said, str) or not said.strip():
        return ""
    outer = error.get("message")
    return f"{outer}: {said}" if isinstance(outer, str) and outer else said


def detail_object_text(detail: dict[str, Any]) -> str:
    """The words of a `detail` that is an object rather than FastAPI's string or list."""
    # KoboldCpp: 401 {"detail": {"error": "Unauthorized", "msg": "Authentication key is
    # missing or invalid.", "type": "unauthorized"}} (koboldcpp.py, secure_endpoint);
    # SillyTavern also reads `detail.error.message`.
    for key in ("msg", "message"):
        if isinstance(detail.get(key), str):
            return str(detail[key])
    error = detail.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return str(error["message"])
    return error if isinstance(error, str) else ""


def _rejected(status: int, said: ProviderSaid, message: str, hint: str) -> EndpointRejected:
    return EndpointRejected(
        message, status_code=status, provider_message=said.message or f"HTTP {status}", hint=hint
    )
