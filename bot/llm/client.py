"""The OpenAI-compatible HTTP client: streams chat completions and lists models over httpx.

Owns transport, deadlines and the translation of httpx and HTTP errors; knows nothing of prompts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from urllib.parse import urlsplit

import httpx

from bot.core.domain import Completion, CompletionRequest, Connection, Delta, Secret
from bot.core.errors import EndpointError, EndpointStreamError, EndpointTimeout
from bot.llm import refusals, wire
from bot.llm.deadline import StreamTimeouts, Watchdog
from bot.llm.failures import transport_error
from bot.llm.sse import SSEDecoder

_log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024 * 1024
"""The most we read of a JSON completion or a model list (OpenRouter's list is about 1 MB)."""
MAX_ERROR_BODY_BYTES = 64 * 1024
MIN_KEY_FRAGMENT_CHARS = 6


def build_http_client(timeouts: StreamTimeouts) -> httpx.AsyncClient:
    """The process's one HTTP client for endpoints.

    No keep-alive: llama-cpp-python leaves a pooled connection dead after a failed stream, and
    the next request on it fails. No proxies from the environment, no redirects (a redirect
    would carry the API key to a host it was not entered for).
    """
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeouts.idle_seconds, connect=timeouts.connect_seconds),
        limits=httpx.Limits(max_keepalive_connections=0),
        trust_env=False,
        follow_redirects=False,
    )


class OpenAICompatClient:
    """Implements `CompletionClient` for any server that speaks OpenAI's chat completions."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeouts: StreamTimeouts,
        trusted_http: httpx.AsyncClient | None = None,
    ) -> None:
        """`http` carries requests to endpoints set in chats (the guarded client in production);
        `trusted_http`, when given, carries the operator's own endpoint, which may be private.
        """
        self._http = http
        self._trusted_http = trusted_http or http
        self._timeouts = timeouts
        # Reads are timed by Watchdog (a silent prefill must not trip an idle timeout).
        self._stream_timeout = httpx.Timeout(
            None, connect=timeouts.connect_seconds, write=timeouts.idle_seconds
        )

    async def stream(self, request: CompletionRequest) -> AsyncGenerator[Delta, None]:
        """Stream a reply: deltas as they arrive, then the end, or an `EndpointError`.

        The deltas that arrived before a failure have been yielded already. Closing the
        generator (or cancelling the task awaiting it) closes the HTTP stream at once; a
        consumer that stops early should wrap it in `contextlib.aclosing`. The generator must
        be consumed by one task.
        """
        connection = request.connection
        path = wire.request_path(request)
        url = _url(connection.base_url, path)
        host = _where(url)
        _log.debug("POST %s host=%s model=%s", path, host, request.model)
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("OpenAICompatClient.stream must run inside an asyncio task")
        watchdog = Watchdog(self._timeouts, task, max_reasoning_chars=request.max_reasoning_chars)
        decoder = SSEDecoder()
        reader = wire.ChunkReader()
        started = False
        try:
            async with self._http_for(connection).stream(
                "POST",
                url,
                json=wire.request_body(request, stream=True),
                headers=_headers(connection, accept="text/event-stream"),
                timeout=self._stream_timeout,
                follow_redirects=False,
            ) as response:
                started = True
                if not await _is_event_stream(response, connection.api_key):
                    # The server ignored `stream: true` and sent one JSON completion.
                    reply = wire.parse_completion(await _read_capped(response)).reply
                    watchdog.at_yield = True
                    yield reply
                    return
                clock = watchdog.clock
                async for chunk in _chunks(response):
                    watchdog.last_activity = clock()
                    for event in decoder.feed(chunk):
                        delta = reader.read(event.data)
                        if delta is None:
                            continue
                        if not watchdog.answering:
                            watchdog.progress(delta.content, delta.reasoning)
                        watchdog.at_yield = True
                        yield delta
                        watchdog.resume()
                    if reader.done:
                        break
                reader.end()
        except asyncio.CancelledError:
            if watchdog.owns_cancellation():
                raise watchdog.error() from None
            raise
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_error(exc, host, started=started) from exc
        except EndpointError as exc:  # a provider may echo the key inside its error text
            exc.args = tuple(_scrub(str(arg), connection.api_key) for arg in exc.args)
            raise
        finally:
            watchdog.stop()

    def _http_for(self, connection: Connection) -> httpx.AsyncClient:
        return self._trusted_http if connection.trusted else self._http

    async def models(self, connection: Connection) -> list[str]:
        """The endpoint's model ids, sorted; a list in an unknown shape gives []."""
        body = await self._fetch(connection, "GET", "models", what="list its models")
        return wire.model_ids(body)

    async def complete(self, request: CompletionRequest) -> Completion:
        """One non-streamed reply, bounded by the total deadline."""
        body = await self._fetch(
            request.connection,
            "POST",
            wire.request_path(request),
            json=wire.request_body(request, stream=False),
            what="answer",
        )
        return wire.parse_completion(body)

    async def _fetch(
        self,
        connection: Connection,
        method: str,
        path: str,
        *,
        what: str,
        json: dict[str, object] | None = None,
    ) -> bytes:
        """One whole JSON answer; errors translated like the stream's."""
        url = _url(connection.base_url, path)
        host = _where(url)
        _log.debug("%s %s host=%s", method, path, host)
        started = False
        try:
            async with (
                asyncio.timeout(self._timeouts.total_seconds),
                self._http_for(connection).stream(
                    method,
                    url,
                    json=json,
                    headers=_headers(connection, accept="application/json"),
                    follow_redirects=False,
                ) as response,
            ):
                started = True
                await _raise_for_status(response, connection.api_key)
                return await _read_capped(response)
        except TimeoutError as exc:
            raise EndpointTimeout(f"{host} took too long to {what}", phase="total") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise transport_error(exc, host, started=started) from exc
        except EndpointError as exc:  # a provider may echo the key inside its error text
            exc.args = tuple(_scrub(str(arg), connection.api_key) for arg in exc.args)
            raise


async def _is_event_stream(response: httpx.Response, secret: Secret | None) -> bool:
    """True for SSE, False for a JSON completion; raises for an error status or anything else."""
    await _raise_for_status(response, secret)
    kind = response.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind in ("text/event-stream", ""):
        return True
    if kind == "application/json" or kind.endswith("+json"):
        return False
    page = "a web page" if kind == "text/html" else kind
    raise EndpointStreamError(
        f"the endpoint answered with {page}: not an OpenAI-compatible API",
        hint="check the base URL (it usually ends with /v1)",
    )


def _chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """Raw bytes unless the server compressed them anyway (we ask for identity)."""
    if response.headers.get("content-encoding", "identity").lower() == "identity":
        return response.aiter_raw()
    return response.aiter_bytes()


async def _read_capped(response: httpx.Response, limit: int = MAX_BODY_BYTES) -> bytes:
    """At most `limit` bytes of the body: a broken server must not fill our memory."""
    parts: list[bytes] = []
    size = 0
    async for part in response.aiter_bytes():
        parts.append(part)
        size += len(part)
        if size >= limit:
            break
    return b"".join(parts)[:limit]


async def _raise_for_status(response: httpx.Response, secret: Secret | None) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    body = await _read_capped(response, MAX_ERROR_BODY_BYTES)
    if secret is not None and secret.reveal():
        # Before parsing: the message is cut to a length later, and a cut key would not match.
        body = body.replace(secret.reveal().encode(), secret.masked().encode())
    said = refusals.provider_said(body)
    retry_after = refusals.retry_after_seconds(
        response.headers.get("retry-after-ms"), response.headers.get("retry-after")
    )
    raise refusals.status_error(status, said, retry_after=retry_after)


def _scrub(text: str, secret: Secret | None) -> str:
    """A provider may echo the key it was given: never pass it on, not even cut short.

    Provider text is capped before it gets here, so the key may end the text half-way.
    """
    key = secret.reveal() if secret is not None else ""
    if not key or secret is None:
        return text
    text = text.replace(key, secret.masked())
    for length in range(len(key) - 1, MIN_KEY_FRAGMENT_CHARS - 1, -1):
        if text.endswith(key[:length]):
            return text[:-length] + secret.masked()
    return text


def _where(url: str) -> str:
    """host:port for messages and logs."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "the endpoint"
    if not host:
        return "the endpoint"
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port}" if port else host


def _url(base_url: str, path: str) -> str:
    return f"{base_url.rstrip('/')}/{path}"


def _headers(connection: Connection, *, accept: str) -> dict[str, str]:
    """Ours, then the connection's extra headers, which may replace any of them (Authorization)."""
    headers = {"Accept": accept, "Accept-Encoding": "identity"}
    secret = connection.api_key
    key = secret.reveal() if secret is not None else ""
    if key:
        # httpx would raise UnicodeEncodeError or a protocol error deep inside the request.
        if not (key.isascii() and key.isprintable()):
            raise EndpointError(
                "the API key contains characters that cannot be sent in a header",
                hint="paste the key again, without spaces, quotes or line breaks",
            )
        headers["Authorization"] = f"Bearer {key}"
    extra = connection.options.extra_headers
    # Header names ignore case: "authorization" replaces ours rather than going out beside it.
    replaced = {name.lower() for name in extra}
    return {k: v for k, v in headers.items() if k.lower() not in replaced} | dict(extra)
