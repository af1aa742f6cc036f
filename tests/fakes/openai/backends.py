"""Backend profiles for the fake OpenAI server: what each real server does that a client notices.

A profile answers under its own path prefix (`http://127.0.0.1:PORT/ollama/v1`), so one fake
serves them all; the fake's un-prefixed `/v1` keeps its scenarios. Each profile imitates its
server's documented /models shape, error bodies, key check and stream quirks, cites where that
is documented, and otherwise echoes the newest user message ("You said: …") so tests can tell
replies apart. Details that are ours, not the server's (model names, the tiny context), say so.
"""

from __future__ import annotations

import itertools
import json
from typing import Any, ClassVar

from tests.fakes.openai.server import _Exchange, _last_user_text, _words, fake_token_ids

# status, content type ("" is JSON), body
Answer = tuple[int, str, bytes]
MODELS, CHAT, TEXT = "/models", "/chat/completions", "/completions"
TOKENIZE, TOKEN_COUNT = "/tokenize", "/internal/token-count"
TABBY_KEY = "tabby-secret-key"
KOBOLD_PASSWORD = "kobold-pass"


def _json(status: int, payload: object) -> Answer:
    return status, "", json.dumps(payload).encode()


def _error(status: int, message: str, **fields: object) -> Answer:
    """OpenAI's error shape."""
    return _json(status, {"error": {"message": message, **fields}})


def _flat_error(status: int, message: str, kind: str, code: object) -> Answer:
    """Older vLLM's and Mistral's shape: the fields at the top level."""
    error = {"object": "error", "message": message, "type": kind, "param": None, "code": code}
    return _json(status, error)


_FASTAPI_NOT_FOUND = _json(404, {"detail": "Not Found"})


class Backend:
    """A plain OpenAI-compatible server; a profile overrides what its server does differently.

    `root` is where the OpenAI routes live under the prefix; `models` what /models lists (the
    first is the loaded one, for servers that answer with whatever is loaded).
    """

    name: ClassVar[str]
    root: ClassVar[str] = "/v1"
    models: ClassVar[tuple[str, ...]] = ("model",)
    owned_by: ClassVar[str] = "owner"
    one_model: ClassVar[bool] = False  # answers as its loaded model, whatever was asked for

    def endpoint(self, path: str) -> str | None:
        """The OpenAI route a path under the prefix names, or None when not served there."""
        if not path.startswith(f"{self.root}/"):
            return None
        route = path.removeprefix(self.root)
        return route if route in (MODELS, CHAT, TEXT) else None

    def not_found(self, method: str, path: str) -> Answer:
        return _error(404, f"Unknown path {method} {path}", type="invalid_request_error")

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        """A key check or request validation that fails; None lets the request through."""
        return None

    def model_entry(self, model: str) -> dict[str, object]:
        return {"id": model, "object": "model", "created": 0, "owned_by": self.owned_by}

    def models_body(self) -> dict[str, object]:
        return {"object": "list", "data": [self.model_entry(m) for m in self.models]}

    async def reply(self, ex: _Exchange) -> None:
        await ex.start_stream()
        await ex.reply(_words(f"You said: {_last_user_text(ex.body)}"))

    async def answer(self, ex: _Exchange, path: str) -> None:
        """Route, check, then answer /models or stream a reply."""
        route = self.endpoint(path)
        wanted = "GET" if route == MODELS else "POST"
        if route is None or ex.request.method != wanted:
            return await _send(ex, self.not_found(ex.request.method, path))
        refusal = self.refusal(ex, route)
        if refusal is not None:
            return await _send(ex, refusal)
        if route == MODELS:
            return await ex.respond(200, json.dumps(self.models_body()).encode())
        ex.text_mode = route == TEXT
        if self.one_model:
            ex.model = self.models[0]
        return await self.reply(ex)


async def _send(ex: _Exchange, answer: Answer) -> None:
    status, kind, body = answer
    await ex.respond(status, body, kind=kind)


def _token(ex: _Exchange) -> str:
    return ex.request.headers.get("authorization", "").removeprefix("Bearer ").strip()


def _prompt_chars(body: dict[str, Any]) -> int:
    messages = body.get("messages")
    texts = [m.get("content") for m in messages if isinstance(m, dict)] if messages else []
    texts.append(body.get("prompt"))
    return sum(len(text) for text in texts if isinstance(text, str))


class LlamaCpp(Backend):
    """llama.cpp's llama-server (ggml-org/llama.cpp tools/server/README.md, server.cpp).

    Serves /models and /chat/completions both under /v1 and at the root (its root /completions
    is its own non-OpenAI format: not imitated); answers as its one loaded model whatever was
    asked; /models carries llama.cpp's own `models` list beside `data`; errors are OpenAI-shaped
    with the HTTP status as `code` and the name in `type`; a prompt past the context is 400
    exceed_context_size_error; POST /tokenize at the root counts tokens. The context (about
    2,000 characters) is ours, to keep tests small.
    """

    name = "llamacpp"
    models = ("gemma-3-4b-it-Q4_K_M.gguf",)
    owned_by = "llamacpp"
    one_model = True
    context_chars = 2_000

    def endpoint(self, path: str) -> str | None:
        if path in (MODELS, CHAT):
            return path
        return super().endpoint(path)

    def not_found(self, method: str, path: str) -> Answer:
        return _error(404, "File Not Found", code=404, type="not_found_error")

    def models_body(self) -> dict[str, object]:
        model = self.models[0]
        native = {"name": model, "model": model, "type": "model", "capabilities": ["completion"]}
        return {**super().models_body(), "models": [native]}

    def model_entry(self, model: str) -> dict[str, object]:
        return {**super().model_entry(model), "meta": {"n_ctx_train": 131072, "n_vocab": 262144}}

    async def answer(self, ex: _Exchange, path: str) -> None:
        """Also POST /tokenize at the root, beside /v1: {"content"} -> {"tokens": [ids]}."""
        if path == TOKENIZE and ex.request.method == "POST":
            tokens = fake_token_ids(str(ex.body.get("content", "")))
            return await ex.respond(200, json.dumps({"tokens": tokens}).encode())
        return await super().answer(ex, path)

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        if route == MODELS or _prompt_chars(ex.body) <= self.context_chars:
            return None
        return _error(
            400,
            "the request exceeds the available context size, try increasing it",
            code=400,
            type="exceed_context_size_error",
            n_prompt_tokens=_prompt_chars(ex.body) // 4,
            n_ctx=self.context_chars // 4,
        )


class LlamaCppPython(Backend):
    """llama-cpp-python's server (abetlen/llama-cpp-python llama_cpp/server/app.py, FastAPI).

    Routes only under /v1 (elsewhere FastAPI's 404 {"detail": "Not Found"}); /models entries
    are owned by "me"; a prompt past the context: streamed, 200 text/event-stream with an empty
    body; unstreamed, 400 context_length_exceeded (both verified with llama-cpp-python
    0.3.36). The context size is ours.
    """

    name = "llamacpppython"
    models = ("smollm2-135m-instruct",)
    owned_by = "me"
    one_model = True
    context_chars = 2_000

    def not_found(self, method: str, path: str) -> Answer:
        return _FASTAPI_NOT_FOUND

    def model_entry(self, model: str) -> dict[str, object]:
        return {"id": model, "object": "model", "owned_by": self.owned_by, "permissions": []}

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        chars = _prompt_chars(ex.body)
        if route == MODELS or chars <= self.context_chars or not ex.buffered:
            return None
        message = (
            f"Requested tokens ({chars // 4}) exceed context window of {self.context_chars // 4}"
        )
        return _error(
            400, message, type="invalid_request_error", param="messages",
            code="context_length_exceeded",
        )  # fmt: skip

    async def reply(self, ex: _Exchange) -> None:
        if _prompt_chars(ex.body) > self.context_chars:
            await ex.start_stream()  # the headers went out; then the handler failed
            return await ex.end()
        return await super().reply(ex)


class KoboldCpp(Backend):
    """KoboldCpp started with --password (LostRuins/koboldcpp, koboldcpp.py).

    Serves the OpenAI routes under /v1 and at the root (`/models`, `/chat/completions`,
    `/completions`); /models needs no password and lists the one "koboldcpp/<file>" model;
    generation without the password is 401 {"detail": {"error": "Unauthorized", "msg":
    "Authentication key is missing or invalid.", "type": "unauthorized"}}; any model name works.
    """

    name = "koboldcpp"
    models = ("koboldcpp/Mistral-Nemo-Instruct-2407-Q4_K_M",)
    owned_by = "koboldcpp"
    one_model = True

    def endpoint(self, path: str) -> str | None:
        if path in (MODELS, CHAT, TEXT):
            return path
        return super().endpoint(path)

    def model_entry(self, model: str) -> dict[str, object]:
        return {**super().model_entry(model), "permission": [], "root": "koboldcpp"}

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        if route == MODELS or _token(ex) == KOBOLD_PASSWORD:
            return None
        detail = {
            "error": "Unauthorized",
            "msg": "Authentication key is missing or invalid.",
            "type": "unauthorized",
        }
        return _json(401, {"detail": detail})


class Ollama(Backend):
    """Ollama's OpenAI compatibility (ollama/ollama openai/openai.go, server/routes.go).

    Only under /v1 (elsewhere Go's plain "404 page not found"); /models lists the pulled
    models, owned by their namespace ("library"); an unknown model is 404 not_found_error
    'model "x" not found, try pulling it first'; a thinking model streams
    `delta.reasoning`; any key, or none, is accepted.
    """

    name = "ollama"
    models = ("llama3.2:latest", "qwen3:0.6b")
    owned_by = "library"

    def not_found(self, method: str, path: str) -> Answer:
        return 404, "text/plain", b"404 page not found"

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        if route == MODELS or ex.model in self.models:
            return None
        message = f'model "{ex.model}" not found, try pulling it first'
        return _error(404, message, type="not_found_error", param=None, code=None)

    async def reply(self, ex: _Exchange) -> None:
        if not ex.model.startswith("qwen3"):
            return await super().reply(ex)
        await ex.start_stream()
        for piece in ("Let me ", "think."):
            choice = {"index": 0, "delta": {"role": "assistant", "reasoning": piece}}
            await ex.event({"object": "chat.completion.chunk", "choices": [choice]})
        return await ex.reply(_words(f"You said: {_last_user_text(ex.body)}"))


class TextGenerationWebUI(Backend):
    """text-generation-webui's API (oobabooga/text-generation-webui modules/api).

    /models lists the one loaded model, owned by "user"; FastAPI validation answers 422
    {"detail": [{"loc": […], "msg": …}]} (here: an unknown `mode`); thinking is streamed as
    `delta.reasoning_content`; POST /v1/internal/token-count counts tokens; unknown paths get
    FastAPI's 404.
    """

    name = "tgwui"
    models = ("Qwen2.5-7B-Instruct-Q4_K_M.gguf",)
    owned_by = "user"
    one_model = True

    def not_found(self, method: str, path: str) -> Answer:
        return _FASTAPI_NOT_FOUND

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        mode = ex.body.get("mode", "instruct")
        if route != CHAT or mode in ("instruct", "chat", "chat-instruct"):
            return None
        problem = {
            "type": "literal_error",
            "loc": ["body", "mode"],
            "msg": "Input should be 'instruct', 'chat' or 'chat-instruct'",
            "input": mode,
        }
        return _json(422, {"detail": [problem]})

    async def answer(self, ex: _Exchange, path: str) -> None:
        """Also POST /v1/internal/token-count: {"text"} -> {"length": n}."""
        if path == f"{self.root}{TOKEN_COUNT}" and ex.request.method == "POST":
            length = len(fake_token_ids(str(ex.body.get("text", ""))))
            return await ex.respond(200, json.dumps({"length": length}).encode())
        return await super().answer(ex, path)

    async def reply(self, ex: _Exchange) -> None:
        await ex.start_stream()
        await ex.reply(
            _words(f"You said: {_last_user_text(ex.body)}"),
            reasoning=() if ex.text_mode else ("Thinking ", "it over."),
        )


class TabbyAPI(Backend):
    """TabbyAPI (theroyallab/tabbyAPI), whose key is required by default.

    Every route, /models included, checks the key (common/auth.py): none is 401 {"detail":
    "Please provide an API key"}, a wrong one 401 {"detail": "Invalid API key"}; it answers
    as its loaded model. The key is ours (TabbyAPI generates one into api_tokens.yml).
    """

    name = "tabbyapi"
    models = ("Qwen2.5-7B-Instruct-exl2", "Llama-3.1-8B-Instruct-exl2")
    owned_by = "tabbyAPI"
    one_model = True

    def not_found(self, method: str, path: str) -> Answer:
        return _FASTAPI_NOT_FOUND

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        token = _token(ex)
        if token == TABBY_KEY:
            return None
        return _json(401, {"detail": "Invalid API key" if token else "Please provide an API key"})


class VLLM(Backend):
    """vLLM's OpenAI server (vllm-project/vllm entrypoints/openai).

    Only under /v1 (elsewhere FastAPI's 404); /models entries carry `root` and
    `max_model_len`; the model name must match exactly: otherwise 404 {"object": "error",
    "message": "The model `x` does not exist.", "type": "NotFoundError", "code": 404}, the
    flat shape of older releases (vllm-project/vllm#3485; newer ones nest it under `error`).
    """

    name = "vllm"
    models = ("Qwen/Qwen2.5-7B-Instruct",)
    owned_by = "vllm"

    def not_found(self, method: str, path: str) -> Answer:
        return _FASTAPI_NOT_FOUND

    def model_entry(self, model: str) -> dict[str, object]:
        extra: dict[str, object] = {
            "root": model,
            "parent": None,
            "max_model_len": 32768,
            "permission": [],
        }
        return {**super().model_entry(model), **extra}

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        if route == MODELS or ex.model in self.models:
            return None
        return _flat_error(404, f"The model `{ex.model}` does not exist.", "NotFoundError", 404)


class LMStudio(Backend):
    """LM Studio's local server (lmstudio.ai/docs).

    Serves /v1 only, and answers any other path with HTTP 200 {"error": "Unexpected endpoint or
    method. (GET /models)"} (lmstudio-ai/lmstudio-bug-tracker#618): a base URL without /v1
    looks alive. /models entries are owned by "organization_owner"; any key or none.
    """

    name = "lmstudio"
    models = ("qwen2.5-7b-instruct", "llama-3.2-3b-instruct")
    owned_by = "organization_owner"

    def not_found(self, method: str, path: str) -> Answer:
        return _json(200, {"error": f"Unexpected endpoint or method. ({method} {path})"})


class OpenRouter(Backend):
    """OpenRouter (openrouter.ai/docs: api/errors, api_reference/streaming).

    Base URL https://openrouter.ai/api/v1; /models is public, generation needs a key (401
    "No auth credentials found"); errors are {"error": {"code": <status>, "message": …}}; an
    unknown model is 400 "<id> is not a valid model ID"; streams carry ": OPENROUTER PROCESSING"
    comments while the model is working.
    """

    name = "openrouter"
    root = "/api/v1"
    models = ("deepseek/deepseek-r1", "mistralai/mistral-small-3.1-24b-instruct", "openai/gpt-4o")

    def not_found(self, method: str, path: str) -> Answer:
        return _error(404, "Not Found", code=404)

    def model_entry(self, model: str) -> dict[str, object]:
        return {"id": model, "name": model.rsplit("/", maxsplit=1)[-1], "context_length": 131072}

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        if route == MODELS:
            return None
        if not _token(ex):
            return _error(401, "No auth credentials found", code=401)
        if ex.model not in self.models:
            return _error(400, f"{ex.model} is not a valid model ID", code=400)
        return None

    async def reply(self, ex: _Exchange) -> None:
        await ex.start_stream()
        for _ in range(2):
            await ex.write(b": OPENROUTER PROCESSING\n\n")
        await ex.reply(
            _words(f"You said: {_last_user_text(ex.body)}"),
            between=(b": OPENROUTER PROCESSING\n\n",),
        )


class DeepSeek(Backend):
    """DeepSeek (api-docs.deepseek.com: quick_start/error_codes, rate_limit, reasoning_model).

    Base URL https://api.deepseek.com, with no /v1: /models and /chat/completions at the root;
    every route needs a key (401 authentication_error); deepseek-reasoner streams
    `reasoning_content` before the answer; while a request waits, streams get ": keep-alive"
    comments and unstreamed answers blank lines before the JSON.
    """

    name = "deepseek"
    root = ""
    models = ("deepseek-chat", "deepseek-reasoner")
    owned_by = "deepseek"

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        if _token(ex):
            return None
        return _error(
            401, "Authentication Fails (no such user)", type="authentication_error",
            param=None, code="invalid_request_error",
        )  # fmt: skip

    async def reply(self, ex: _Exchange) -> None:
        ex.padding = b"\n\n"
        await ex.start_stream()
        await ex.write(b": keep-alive\n\n")
        thinking = ("We're asked ", "to echo.") if ex.model == "deepseek-reasoner" else ()
        await ex.reply(_words(f"You said: {_last_user_text(ex.body)}"), reasoning=thinking)


class Mistral(Backend):
    """Mistral's API (docs.mistral.ai), strict about the order of messages.

    Every route needs a key (401 {"message": "Unauthorized", "request_id": …}); errors are
    flat {"object": "error", "message", "type", "param", "code"}; an unknown model is 400
    "Invalid model: <id>" (invalid_model, "1500"); system messages must come first, then user
    and assistant alternate and the last is the user's, else 400 "Unexpected role 'user' after
    role 'user'" (invalid_request_message_order, "3230"; seen in charmbracelet/crush#279).
    """

    name = "mistral"
    models = ("mistral-small-latest", "mistral-large-latest")
    owned_by = "mistralai"

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        if not _token(ex):
            return _json(401, {"message": "Unauthorized", "request_id": "0" * 32})
        if route == MODELS:
            return None
        if ex.model not in self.models:
            return _flat_error(400, f"Invalid model: {ex.model}", "invalid_model", "1500")
        problem = _role_order_problem(ex.body.get("messages"))
        if problem is None:
            return None
        return _flat_error(400, problem, "invalid_request_message_order", "3230")


def _role_order_problem(messages: object) -> str | None:
    """Mistral's rule: system messages first, then user and assistant alternating, user last."""
    listed = messages if isinstance(messages, list) else []
    roles = [m.get("role") for m in listed if isinstance(m, dict)]
    for before, role in itertools.pairwise(roles):
        if (role == "system" and before != "system") or (role == before != "system"):
            return f"Unexpected role '{role}' after role '{before}'"
    if roles and roles[-1] != "user":
        return (
            "Expected last role User or Tool (or Assistant with prefix True) for serving"
            f" but got {roles[-1]}"
        )
    return None


class NoModels(Backend):
    """A server without GET /models (some proxies and hosted front ends): 404 there."""

    name = "nomodels"

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        return self.not_found("GET", f"{self.root}{MODELS}") if route == MODELS else None


class TextOnly(Backend):
    """A server that only does text completion: /chat/completions is 404, /completions works."""

    name = "textonly"
    models = ("base-model-7b",)

    def refusal(self, ex: _Exchange, route: str) -> Answer | None:
        return self.not_found("POST", f"{self.root}{CHAT}") if route == CHAT else None


PROFILES: tuple[type[Backend], ...] = (
    LlamaCpp, LlamaCppPython, KoboldCpp, Ollama, TextGenerationWebUI, TabbyAPI, VLLM, LMStudio,
    OpenRouter, DeepSeek, Mistral, NoModels, TextOnly,
)  # fmt: skip


def all_backends() -> dict[str, Backend]:
    """A fresh instance of every profile, by the path prefix it answers under."""
    return {profile.name: profile() for profile in PROFILES}
