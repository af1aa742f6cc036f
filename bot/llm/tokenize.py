"""Token counts from an endpoint's own tokenizer (llama.cpp, text-generation-webui), else estimated.

Knows those tokenizer routes, what it learned about each endpoint and when to fall back; knows
nothing of prompts or budgets.
"""

from __future__ import annotations

import asyncio
import enum
import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import httpx

from bot.core.domain import Connection, TokenCounts
from bot.core.errors import EndpointError, EndpointNotAllowed
from bot.llm.client import _headers, _read_capped, _url, _where

_log = logging.getLogger(__name__)

ESTIMATE = "estimate"
"""`TokenCounts.tokenizer` when the counts are `estimate_tokens`'s."""
REQUEST_TIMEOUT_SECONDS = 5.0
TOTAL_TIMEOUT_SECONDS = 20.0
CONCURRENT_REQUESTS = 4
REMEMBERED_ENDPOINTS = 256
REST_AFTER_FAILURE_SECONDS = 60.0
PROBE_TEXT = "Hello, world."
# 4xx answers that mean "this server has no such route, or not in this shape" (vLLM's own
# /tokenize wants `prompt`, so it answers our llama.cpp body with 400 or 422).
_ABSENT_STATUSES = frozenset({400, 404, 405, 422, 501})


def estimate_tokens(text: str) -> int:
    """ceil(UTF-8 bytes / 3.35), SillyTavern's fallback; in integers, so 67 bytes are 20 tokens."""
    return -(-len(text.encode()) * 100 // 335)


def estimate(texts: Sequence[str]) -> TokenCounts:
    return TokenCounts(ESTIMATE, tuple(estimate_tokens(text) for text in texts))


class _NoCount(Exception):
    """Why a count failed; `absent` when the endpoint simply has no such tokenizer."""

    def __init__(self, reason: str, *, absent: bool = False) -> None:
        super().__init__(reason)
        self.absent = absent


@dataclass(frozen=True, slots=True)
class _Route:
    """One tokenizer API: where it lives, the field it reads, and the count in its answer."""

    name: str
    path: str
    field: str
    read: Callable[[object], int | None]
    at_root: bool = False  # beside /v1 rather than under it

    def url(self, base_url: str) -> str:
        base = base_url.rstrip("/")
        return _url(base.removesuffix("/v1") if self.at_root else base, self.path)


def _token_list_length(answer: object) -> int | None:
    tokens = answer.get("tokens") if isinstance(answer, dict) else None
    return len(tokens) if isinstance(tokens, list) else None


def _length_field(answer: object) -> int | None:
    length = answer.get("length") if isinstance(answer, dict) else None
    if isinstance(length, int) and not isinstance(length, bool) and length >= 0:
        return length
    return None


ROUTES = (
    # llama.cpp's llama-server: POST /tokenize {"content"} -> {"tokens": [ids]} (server README).
    _Route("llama.cpp", "tokenize", "content", _token_list_length, at_root=True),
    # text-generation-webui: POST /v1/internal/token-count {"text"} -> {"length": n}
    # (oobabooga/text-generation-webui modules/api).
    _Route("text-generation-webui", "internal/token-count", "text", _length_field),
)


@dataclass(frozen=True, slots=True)
class _Memory:
    """What one endpoint and model taught us: its tokenizer, and whether to leave it alone."""

    probed: bool = False
    route: _Route | None = None  # when probed: the tokenizer, or None when it has none
    rest_until: float | None = None  # after a failure: estimate, without asking, until then


class _Probe(enum.Enum):
    NEEDED = "needed"


class EndpointTokenizer:
    """Implements `TokenCounter` by asking the endpoint's tokenizer, falling back to the estimate.

    Which tokenizer an endpoint offers is probed once per (base URL, model) and remembered for
    the process (the newest `remembered` endpoints). A 4xx that means "no such route" or an
    answer that is not the expected JSON means none: counts are estimated from then on. Any
    other failure (timeout, refused connection, the guard, 401, 5xx) gives the estimate for
    this call and rests the endpoint for `rest_seconds`, so a hung tokenizer costs one timeout
    a minute rather than one per turn. The counts of one call always come from one tokenizer.
    Never raises for the endpoint's sake; logs one line, with the host only, when it gives up.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        trusted_http: httpx.AsyncClient | None = None,
        request_timeout_seconds: float = REQUEST_TIMEOUT_SECONDS,
        total_timeout_seconds: float = TOTAL_TIMEOUT_SECONDS,
        concurrency: int = CONCURRENT_REQUESTS,
        remembered: int = REMEMBERED_ENDPOINTS,
        rest_seconds: float = REST_AFTER_FAILURE_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        """`http` carries requests to endpoints set in chats (the guarded client);
        `trusted_http`, when given, those to the operator's own endpoint, as in OpenAICompatClient.
        """
        self._http = http
        self._trusted_http = trusted_http or http
        self._request_seconds = request_timeout_seconds
        self._total_seconds = total_timeout_seconds
        self._concurrency = concurrency
        self._remembered = remembered
        self._rest_seconds = rest_seconds
        self._now = now
        self._memory: OrderedDict[tuple[str, str], _Memory] = OrderedDict()
        self._probing: dict[tuple[str, str], asyncio.Lock] = {}

    async def count(self, connection: Connection, model: str, texts: Sequence[str]) -> TokenCounts:
        texts = tuple(texts)
        if not any(texts):
            return estimate(texts)
        key = (connection.base_url.rstrip("/"), model)
        try:
            route = await self._route(connection, key)
            if route is None:
                return estimate(texts)
            async with asyncio.timeout(self._total_seconds):
                counts = await self._count_all(route, connection, texts)
        except (_NoCount, TimeoutError) as exc:
            reason = str(exc) if isinstance(exc, _NoCount) else "it took too long"
            forget = isinstance(exc, _NoCount) and exc.absent
            self._rest(key, forget=forget)
            _log.info(
                "token count at %s failed (%s); estimating for %gs",
                _where(connection.base_url), reason, self._rest_seconds,
            )  # fmt: skip
            return estimate(texts)
        return TokenCounts(_tokenizer_name(route, key), counts)

    def _http_for(self, connection: Connection) -> httpx.AsyncClient:
        return self._trusted_http if connection.trusted else self._http

    async def _route(self, connection: Connection, key: tuple[str, str]) -> _Route | None:
        """The endpoint's tokenizer, probed under a lock on first sight; None: estimate."""
        known = self._recall(key)
        if known is not _Probe.NEEDED:
            return known
        lock = self._probing.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                known = self._recall(key)  # another task may have probed meanwhile
                if known is not _Probe.NEEDED:
                    return known
                route = await self._probe(connection)
                self._store(key, _Memory(probed=True, route=route))
        finally:
            if self._probing.get(key) is lock and not lock.locked():
                del self._probing[key]
        found = f"the {route.name} tokenizer" if route else "no tokenizer; estimating"
        _log.info("token counts at %s for %s: %s", _where(connection.base_url), key[1], found)
        return route

    async def _probe(self, connection: Connection) -> _Route | None:
        """The first route that counts a short text; a transient failure raises `_NoCount`."""
        async with asyncio.timeout(self._total_seconds):
            for route in ROUTES:
                try:
                    await self._ask(route, connection, PROBE_TEXT)
                except _NoCount as exc:
                    if not exc.absent:
                        raise
                    continue
                return route
        return None

    async def _count_all(
        self, route: _Route, connection: Connection, texts: tuple[str, ...]
    ) -> tuple[int, ...]:
        """Every text counted, a few at a time; the first failure cancels the rest."""
        limit = asyncio.Semaphore(self._concurrency)

        async def one(text: str) -> int:
            if not text:
                return 0
            async with limit:
                return await self._ask(route, connection, text)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(text)) for text in texts]
        except* _NoCount as failures:
            raise _first(failures) from None
        return tuple(task.result() for task in tasks)

    async def _ask(self, route: _Route, connection: Connection, text: str) -> int:
        """One text's count from one route, or `_NoCount` saying why not."""
        try:
            async with (
                asyncio.timeout(self._request_seconds),
                self._http_for(connection).stream(
                    "POST",
                    route.url(connection.base_url),
                    json={route.field: text},
                    headers=_headers(connection, accept="application/json"),
                    follow_redirects=False,
                ) as response,
            ):
                status = response.status_code
                if not 200 <= status < 300:
                    raise _NoCount(f"{route.name} answered {status}", absent=_absent(status))
                body = await _read_capped(response)
        except TimeoutError:
            raise _NoCount(f"{route.name} took too long") from None
        except EndpointNotAllowed:
            raise _NoCount("the endpoint guard refused it") from None
        except EndpointError:  # a key that cannot go in a header
            raise _NoCount("the API key cannot be sent") from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise _NoCount(f"{route.name}: {type(exc).__name__}") from None
        try:
            count = route.read(json.loads(body))
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            count = None
        if count is None:
            raise _NoCount(f"{route.name} answered something else", absent=True)
        return count

    def _recall(self, key: tuple[str, str]) -> _Route | _Probe | None:
        """The remembered tokenizer (None: estimate, also while resting), or _Probe.NEEDED."""
        memory = self._memory.get(key)
        if memory is None:
            return _Probe.NEEDED
        self._memory.move_to_end(key)
        if memory.rest_until is not None and self._now() < memory.rest_until:
            return None
        return memory.route if memory.probed else _Probe.NEEDED

    def _rest(self, key: tuple[str, str], *, forget: bool) -> None:
        """Estimate for a while; `forget` the tokenizer too when it has gone (probe again)."""
        memory = _Memory() if forget else self._memory.get(key, _Memory())
        until = self._now() + self._rest_seconds
        self._store(key, _Memory(probed=memory.probed, route=memory.route, rest_until=until))

    def _store(self, key: tuple[str, str], memory: _Memory) -> None:
        self._memory[key] = memory
        self._memory.move_to_end(key)
        while len(self._memory) > self._remembered:
            self._memory.popitem(last=False)


def _absent(status: int) -> bool:
    return status in _ABSENT_STATUSES


def _first(failures: BaseExceptionGroup[_NoCount]) -> _NoCount:
    first = failures.exceptions[0]
    return first if isinstance(first, _NoCount) else _first(first)


def _tokenizer_name(route: _Route, key: tuple[str, str]) -> str:
    """The route and a digest of server and model: cached counts are reused only for the same."""
    base_url, model = key
    digest = hashlib.sha256(f"{base_url}\n{model}".encode()).hexdigest()[:12]
    return f"{route.name}:{digest}"
