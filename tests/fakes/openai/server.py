"""A fake OpenAI-compatible server on 127.0.0.1: real TCP and HTTP/1.1 from the standard library.

Under `/v1` the request's `model` ("scenario/<name>" or "<name>") picks how it answers; other
models get `default_scenario`. Under a backend's prefix (`/ollama/v1`, `/deepseek`, …) it answers
the way that server does (tests/fakes/openai/backends.py). For tests, benchmarks and demos
(`python -m tests.fakes.openai.server`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tests.fakes.threaded import serving_in_thread

SCENARIOS = (
    "echo", "normal", "reasoning", "keepalive", "fragmented", "u2028", "error_mid_stream",
    "cut", "abort", "finish_no_done", "empty", "garbage", "slow_first_token", "slow", "count",
    "numbered", "fenced", "paced",
    "json", "html", "unauthorized", "unauthorized_padded", "detail", "forbidden", "not_found",
    "rate_limited", "quota", "validation", "server_error", "bad_gateway", "redirect",
)  # fmt: skip


FENCED_LINES = tuple(f"print({n})  # line {n}\n" for n in range(1, 151))
FENCED_REPLY = "Here is the code:\n\n```python\n" + "".join(FENCED_LINES) + "```\n\nThat is all."
"""What the "fenced" scenario streams."""


def _error(message: str, **fields: str) -> bytes:
    return json.dumps({"error": {"message": message, **fields}}).encode()


_JSON_MESSAGE = {"role": "assistant", "content": "Hello from JSON.", "reasoning_content": "Hm."}
_JSON_REPLY = {
    "object": "chat.completion",
    "choices": [{"index": 0, "message": _JSON_MESSAGE, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 4},
}
# Canned answers: name -> (status, content type, body). "{token}" becomes the presented key,
# as a naive server would echo it: the client must never pass it on.
# fmt: off
_CANNED: dict[str, tuple[int, str, bytes]] = {
    "unauthorized": (401, "", _error("Incorrect API key: {token}", code="invalid_api_key")),
    # The key straddles the point where provider text is cut to 300 characters.
    "unauthorized_padded": (401, "", _error("x" * 280 + " key={token} was refused")),
    "detail": (401, "", b'{"detail": "Invalid API key"}'),
    "forbidden": (403, "", _error("This key may not use this model")),
    "not_found": (404, "", _error("The model does not exist", code="model_not_found")),
    "rate_limited": (429, "", _error("Rate limit reached", type="requests")),
    "quota": (429, "", _error("You exceeded your current quota", code="insufficient_quota")),
    "validation": (422, "", b'{"detail": [{"loc": ["body", "messages"], "msg": "Required"}]}'),
    "server_error": (500, "", _error("The server had an error", type="server_error")),
    "bad_gateway": (502, "text/html", b"<html><body>502 Bad Gateway</body></html>"),
    "html": (200, "text/html", b"<!doctype html><title>Welcome</title>"),
    "json": (200, "", json.dumps(_JSON_REPLY).encode()),
    "redirect": (307, "text/plain", b""),
}
# fmt: on
_MAX_BODY_BYTES = 10 * 1024 * 1024
_SLOW_MAX_TOKENS = 10_000


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    json: Any


class _Exchange:
    """One request being answered on one connection (always `Connection: close`)."""

    def __init__(self, writer: asyncio.StreamWriter, request: RecordedRequest) -> None:
        self.writer = writer
        self.request = request
        self.body: dict[str, Any] = request.json if isinstance(request.json, dict) else {}
        self.model = str(self.body.get("model", ""))
        self.chunked = False
        self.complete = False
        self.text_mode = request.path == "/v1/completions"  # text completion: choices[].text
        # A request with stream: false gets the same reply gathered into one JSON answer.
        self.buffered = self.body.get("stream") is False
        self.padding = b""  # sent before that JSON answer (DeepSeek's blank lines while queued)
        self._gathered: list[dict[str, Any]] = []

    async def respond(
        self, status: int, body: bytes, *, kind: str = "", headers: dict[str, str] | None = None
    ) -> None:
        fields = {"Content-Type": kind or "application/json", "Content-Length": str(len(body))}
        await self._head(status, {**fields, **(headers or {})})
        self.complete = True
        self.writer.write(body)
        await self.writer.drain()

    async def _head(self, status: int, fields: dict[str, str]) -> None:
        lines = [f"HTTP/1.1 {status} Fake"]  # clients ignore the reason phrase
        lines += [f"{name}: {value}" for name, value in {**fields, "Connection": "close"}.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()

    async def start_stream(self, *, chunked: bool = True) -> None:
        """Headers of an SSE reply; a close-delimited body when not chunked."""
        if self.buffered:
            return
        self.chunked = chunked
        framing = {"Transfer-Encoding": "chunked"} if chunked else {}
        await self._head(200, {"Content-Type": "text/event-stream", **framing})

    async def write(self, data: bytes) -> None:
        """One write: one HTTP chunk when chunked, so the client sees these exact pieces."""
        if self.buffered:
            return  # keep-alives, [DONE] and raw bytes mean nothing in a JSON answer
        self.writer.write(b"%x\r\n%b\r\n" % (len(data), data) if self.chunked else data)
        await self.writer.drain()

    async def event(self, payload: object) -> None:
        if self.buffered:
            if isinstance(payload, dict):
                self._gathered.append(payload)
            return
        await self.write(b"data: %b\n\n" % json.dumps(payload, ensure_ascii=False).encode())

    async def end(self) -> None:
        if self.buffered:
            await self.respond(200, self.padding + json.dumps(self._whole()).encode())
            return
        self.complete = True
        if self.chunked:
            self.writer.write(b"0\r\n\r\n")
            await self.writer.drain()

    def _whole(self) -> dict[str, Any]:
        """The gathered stream as one completion, the way a server answers stream: false."""
        text, reasoning = [], []
        for payload in self._gathered:
            for choice in payload.get("choices") or []:
                delta = choice.get("delta") or {}
                text.append(choice.get("text") or delta.get("content") or "")
                reasoning.append(delta.get("reasoning_content") or "")
        if self.text_mode:
            choice = {"index": 0, "text": "".join(text), "finish_reason": "stop"}
        else:
            message = {"role": "assistant", "content": "".join(text)}
            if any(reasoning):
                message["reasoning_content"] = "".join(reasoning)
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
        return {"object": "completion", "model": self.model, "choices": [choice]}

    def chunk(
        self, content: str | None = None, *, reasoning: str | None = None, finish: str | None = None
    ) -> dict[str, Any]:
        if self.text_mode:
            text_choice = {"index": 0, "text": content or "", "finish_reason": finish}
            return {"object": "text_completion", "model": self.model, "choices": [text_choice]}
        delta = {"content": content} if content is not None else {}
        if reasoning is not None:
            delta["reasoning_content"] = reasoning
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return {"object": "chat.completion.chunk", "model": self.model, "choices": [choice]}

    async def reply(
        self,
        tokens: list[str],
        *,
        reasoning: tuple[str, ...] = (),
        done: bool = True,
        between: tuple[bytes, ...] = (),
    ) -> None:
        """A whole well-formed stream: role chunk, reasoning, tokens, finish, usage, [DONE]."""
        if not self.text_mode:
            await self.event(
                {**self.chunk(), "choices": [{"index": 0, "delta": {"role": "assistant"}}]}
            )
        for piece in reasoning:
            await self.event(self.chunk(reasoning=piece))
        for index, token in enumerate(tokens):
            await self.event(self.chunk(token))
            if between:
                await self.write(between[index % len(between)])
        await self.event(self.chunk(finish="stop"))
        usage = {"prompt_tokens": 7, "completion_tokens": len(tokens)}
        await self.event({"object": "chat.completion.chunk", "choices": [], "usage": usage})
        if done:
            await self.write(b"data: [DONE]\n\n")
        await self.end()


class FakeOpenAI:
    """Serves /v1/chat/completions, /v1/models and llama.cpp's /tokenize on 127.0.0.1.

    `async with FakeOpenAI() as fake:` runs it in the current loop; `with
    FakeOpenAI.in_thread() as fake:` runs it in its own loop in a daemon thread (for tests that
    drive a subprocess). `disconnected` (threading) / `wait_disconnected()` (async) signal that a
    client closed the connection mid-stream; `closed_early` counts those. `backend_url(name)` is
    the base URL of one backend profile.
    """

    def __init__(self, *, port: int = 0) -> None:
        # Imported here: backends.py builds on this module's _Exchange.
        from tests.fakes.openai.backends import all_backends

        self.backends = all_backends()
        self.port = port
        self.default_scenario = "echo"
        self.required_api_key: str | None = None
        self.models: list[str] = ["fake-model", *(f"scenario/{name}" for name in SCENARIOS)]
        self.first_token_delay_seconds = 5.0
        self.keepalive_interval_seconds = 0.05  # comments sent while the first token is delayed
        self.token_interval_seconds = 0.05
        self.rate_limit_headers = {"retry-after": "7"}
        # Remove "/v1/completions" to imitate a chat-only server (or the reverse).
        self.generation_paths = {"/v1/chat/completions", "/v1/completions"}
        # POST /tokenize at the server root, llama.cpp style (counts: `fake_token_ids`). Off: 404;
        # a delay makes it hang; an answer replaces the count (garbage for tests).
        self.tokenize_enabled = True
        self.tokenize_delay_seconds = 0.0
        self.tokenize_answer: bytes | None = None
        self.requests: list[RecordedRequest] = []
        self.closed_early = 0
        self.disconnected = threading.Event()
        self._disconnected_async: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def backend_url(self, name: str) -> str:
        """Where a profile's API lives: `/ollama/v1`, `/deepseek`, `/openrouter/api/v1`, …"""
        return f"http://127.0.0.1:{self.port}/{name}{self.backends[name].root}"

    async def __aenter__(self) -> FakeOpenAI:
        self._disconnected_async = asyncio.Event()
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def wait_disconnected(self) -> None:
        """Wait until a client hangs up mid-stream (only in the loop the fake runs in)."""
        assert self._disconnected_async is not None
        await self._disconnected_async.wait()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, *, port: int = 0) -> Iterator[FakeOpenAI]:
        """The fake in its own loop in a daemon thread, for a bot running as a subprocess."""
        with serving_in_thread(cls(port=port)) as fake:
            yield fake

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            request = await _read_request(reader)
            if request is not None:
                self.requests.append(request)
                await self._answer(reader, _Exchange(writer, request))
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client hung up: nothing left to answer
        except ValueError:
            pass  # not HTTP: nothing sensible to answer
        except asyncio.CancelledError:
            pass  # hang-up or shutdown; Python 3.11 logs a handler task that ends cancelled
        finally:
            self._tasks.discard(task)
            writer.close()

    async def _answer(self, reader: asyncio.StreamReader, ex: _Exchange) -> None:
        request = ex.request
        prefix, _, rest = request.path.removeprefix("/").partition("/")
        backend = self.backends.get(prefix)
        if backend is not None:
            return await self._play(
                reader, ex, lambda exchange: backend.answer(exchange, f"/{rest}")
            )
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.required_api_key is not None and token != self.required_api_key:
            return await self._canned(ex, "unauthorized", token)
        if request.method == "GET" and request.path == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models
            ]
            return await ex.respond(200, json.dumps({"object": "list", "data": data}).encode())
        if request.method == "POST" and request.path == "/tokenize" and self.tokenize_enabled:
            return await self._tokenize(ex)
        if request.method != "POST" or request.path not in self.generation_paths:
            return await ex.respond(404, b'{"error":{"message":"Unknown path"}}')
        name = ex.model.removeprefix("scenario/")
        name = name if name in SCENARIOS else self.default_scenario
        if name in _CANNED:
            return await self._canned(ex, name, token)
        return await self._play(reader, ex, getattr(self, f"_{name}", None) or _REPLIES[name].play)

    async def _play(
        self,
        reader: asyncio.StreamReader,
        ex: _Exchange,
        scenario: Callable[[_Exchange], Awaitable[None]],
    ) -> None:
        watcher = asyncio.create_task(self._watch_hangup(reader, ex, asyncio.current_task()))
        try:
            await scenario(ex)
        finally:
            watcher.cancel()

    async def _watch_hangup(
        self, reader: asyncio.StreamReader, ex: _Exchange, streaming: asyncio.Task[Any] | None
    ) -> None:
        """The client sends nothing after its request: EOF means it hung up."""
        with contextlib.suppress(ConnectionError):
            await reader.read(1)
        if not ex.complete and streaming is not None:
            self.closed_early += 1
            self.disconnected.set()
            if self._disconnected_async is not None:
                self._disconnected_async.set()
            streaming.cancel()

    async def _canned(self, ex: _Exchange, name: str, token: str) -> None:
        status, kind, body = _CANNED[name]
        headers = dict(self.rate_limit_headers) if status == 429 else {}
        if status == 307:
            headers["Location"] = f"{self.base_url}/v2/chat/completions"
        await ex.respond(
            status, body.replace(b"{token}", token.encode()), kind=kind, headers=headers
        )

    async def _tokenize(self, ex: _Exchange) -> None:
        """llama.cpp's POST /tokenize {"content"} -> {"tokens": [ids]}, ids by `fake_token_ids`."""
        await asyncio.sleep(self.tokenize_delay_seconds)
        if self.tokenize_answer is not None:
            return await ex.respond(200, self.tokenize_answer)
        content = ex.body.get("content")
        if not isinstance(content, str):
            return await ex.respond(400, _error("'content' must be a string"))
        return await ex.respond(200, json.dumps({"tokens": fake_token_ids(content)}).encode())

    # Scenarios: one coroutine per name in SCENARIOS (the error ones are in _ERRORS).
    async def _echo(self, ex: _Exchange) -> None:
        await ex.start_stream()
        await ex.reply(_words(f"You said: {_last_user_text(ex.body)}"))

    async def _keepalive(self, ex: _Exchange) -> None:
        await ex.start_stream()
        await ex.write(b": OPENROUTER PROCESSING\n\n")
        await ex.reply(_words("Still here."), between=(b": keep-alive\n\n", b":\n\n"))

    async def _fragmented(self, ex: _Exchange) -> None:
        await ex.start_stream()
        tokens = ["Grüße, ", "世界 ", "🌍", "!"]
        events = [ex.chunk(t) for t in tokens] + [ex.chunk(finish="stop")]
        text = "".join(f"data: {json.dumps(e, ensure_ascii=False)}\r\n\r\n" for e in events)
        data, sizes, at = (text + "data: [DONE]\r\n\r\n").encode(), (1, 2, 3, 5, 7), 0
        for index in range(len(data)):  # bounded: at most one piece per byte
            if at >= len(data):
                break
            size = sizes[index % len(sizes)]
            await ex.write(data[at : at + size])
            at += size
        await ex.end()

    async def _error_mid_stream(self, ex: _Exchange) -> None:
        await ex.start_stream()
        for token in _words("Partial reply"):
            await ex.event(ex.chunk(token))
        await ex.event({"error": {"message": "upstream overloaded", "code": 502}})
        await ex.end()

    async def _cut(self, ex: _Exchange) -> None:
        await ex.start_stream(chunked=False)
        for token in _words("This reply stops"):
            await ex.event(ex.chunk(token))
        ex.complete = True  # the close below is ours, not the client's

    async def _abort(self, ex: _Exchange) -> None:
        await ex.start_stream()
        await ex.event(ex.chunk("Half"))
        ex.complete = True  # closed without the last chunk: a broken HTTP body

    async def _empty(self, ex: _Exchange) -> None:
        await ex.start_stream()
        await ex.end()

    async def _garbage(self, ex: _Exchange) -> None:
        await ex.start_stream()
        await ex.write(b"data: this is not json\n\n")
        await ex.end()

    async def _slow_first_token(self, ex: _Exchange) -> None:
        await ex.start_stream()
        loop = asyncio.get_running_loop()
        end = loop.time() + self.first_token_delay_seconds
        while (left := end - loop.time()) > 0:  # keep-alives are not tokens
            await asyncio.sleep(min(self.keepalive_interval_seconds, left))
            await ex.write(b": keep-alive\n\n")
        await ex.reply(_words("Sorry for the wait."))

    async def _slow(self, ex: _Exchange) -> None:
        await ex.start_stream()
        for index in range(1, _SLOW_MAX_TOKENS + 1):
            await ex.event(ex.chunk(f" t{index:06d}"))
            await asyncio.sleep(self.token_interval_seconds)
        await ex.reply([])

    async def _numbered(self, ex: _Exchange) -> None:
        """ "Reply number N.": each generation differs, so regenerated replies and swipes can be
        told apart (N counts the generation requests so far, this one included)."""
        await ex.start_stream()
        paths = self.generation_paths
        number = sum(1 for r in self.requests if r.method == "POST" and r.path in paths)
        await ex.reply(_words(f"Reply number {number}."))

    async def _fenced(self, ex: _Exchange) -> None:
        """A reply longer than a Discord message (2000 characters), most of it one code block,
        so a cut must fall inside the fence."""
        await ex.start_stream()
        await ex.reply(["Here is the code:\n\n```python\n", *FENCED_LINES, "```\n\nThat is all."])

    async def _count(self, ex: _Exchange) -> None:
        """`max_tokens` unique tokens, back to back: the benchmark's stream."""
        await ex.start_stream()
        count = int(ex.body.get("max_tokens") or 100)
        await ex.reply([f" t{index:06d}" for index in range(1, min(count, 1_000_000) + 1)])

    async def _paced(self, ex: _Exchange) -> None:
        """`max_tokens` unique tokens, `token_interval_seconds` apart: a model at its pace."""
        await ex.start_stream()
        count = int(ex.body.get("max_tokens") or 100)
        for index in range(1, min(count, 1_000_000) + 1):
            await ex.event(ex.chunk(f" t{index:06d}"))
            await asyncio.sleep(self.token_interval_seconds)
        await ex.reply([])


async def _read_request(reader: asyncio.StreamReader) -> RecordedRequest | None:
    head = await reader.readuntil(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if colon:  # repeated lines combine, as RFC 9110 §5.3 reads them
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    length = int(headers.get("content-length") or 0)
    if length > _MAX_BODY_BYTES:
        return None
    raw = await reader.readexactly(length)
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    return RecordedRequest(method, target.partition("?")[0], headers, body)


def fake_token_ids(text: str) -> list[int]:
    """The fake tokenizers' answer: one token per whitespace-separated word, nothing else.

    Unlike the estimate (UTF-8 bytes / 3.35): "the quick brown fox" is 4 here and 6 estimated.
    """
    return [1000 + index for index, _ in enumerate(text.split())]


def _words(text: str) -> list[str]:
    """ "a b c" → ["a ", "b ", "c"]: a deterministic word-by-word stream."""
    parts = text.split(" ")
    return [f"{part} " for part in parts[:-1]] + [parts[-1]]


@dataclass(frozen=True)
class _Reply:
    """A well-formed stream with fixed text."""

    tokens: list[str]
    reasoning: tuple[str, ...] = ()
    done: bool = True

    async def play(self, ex: _Exchange) -> None:
        await ex.start_stream()
        await ex.reply(self.tokens, reasoning=self.reasoning, done=self.done)


_REPLIES = {
    "normal": _Reply(_words("Hello! How can I help you today?")),
    "reasoning": _Reply(_words("The answer is 42."), reasoning=("Let me ", "think.")),
    "u2028": _Reply(["line one\u2028line two", "\u2029para", "\x85next"]),
    "finish_no_done": _Reply(_words("Done without DONE."), done=False),
}


def _last_user_text(body: dict[str, Any]) -> str:
    """The newest user message; for a text completion, the prompt's last line with text."""
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        plain = re.sub(r"<\|[^|]*\|>", "\n", prompt)  # drop special tokens like <|im_end|>
        roles = {"user", "assistant", "system"}
        lines = [line for line in plain.splitlines() if line.strip() and line not in roles]
        return lines[-1] if lines else ""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            return content if isinstance(content, str) else json.dumps(content)
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    parser.add_argument("--scenario", default="echo", choices=SCENARIOS)
    parser.add_argument("--api-key", default=None, help="answer 401 unless this Bearer key is sent")
    parser.add_argument(
        "--token-interval", type=float, default=0.05, help="seconds between slow/paced tokens"
    )
    args = parser.parse_args()

    async def serve() -> None:
        async with FakeOpenAI(port=args.port) as fake:
            fake.default_scenario, fake.required_api_key = args.scenario, args.api_key
            fake.token_interval_seconds = args.token_interval
            print(fake.base_url, flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
