"""The operator's HTTP listener: /healthz, /readyz and /metrics on aiohttp's web server.

Knows readiness only as named async checks and metrics only as `Metrics`; the composition
root says what is checked. Routes are a list, so another listener's job (Telegram webhooks)
is one more route, added before the listener starts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Self

from aiohttp import web

from bot.web.metrics import Metrics

_log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[bool]]
"""Answers whether one part is ready (the database answers, a platform is connected)."""

DEFAULT_HOST = "127.0.0.1"
CHECK_TIMEOUT_SECONDS = 3.0
"""A check slower than this counts as not ready: a probe must answer within its own timeout."""
SHUTTING_DOWN = "shutting down"


class OpsListener:
    """Serves /healthz (200 while the process runs), /readyz (200 only when every check
    passes and no shutdown has begun, else 503 naming what is not ready) and /metrics.

    `async with` binds and serves; `port` is the bound port (pass 0 for any free one).
    Bodies name checks only: never an error's text, which might hold a URL or a key.
    """

    def __init__(
        self,
        *,
        metrics: Metrics | None = None,
        checks: Mapping[str, ReadinessCheck] | None = None,
        host: str = DEFAULT_HOST,
        port: int = 0,
        routes: Iterable[web.AbstractRouteDef] = (),
        check_timeout_seconds: float = CHECK_TIMEOUT_SECONDS,
    ) -> None:
        self._metrics = metrics
        self._checks = dict(checks or {})
        self._host = host
        self._port = port
        self._check_timeout = check_timeout_seconds
        self._shutting_down = False
        self._runner: web.AppRunner | None = None
        self.app = web.Application()
        self.app.add_routes(
            [
                web.get("/healthz", self._healthz),
                web.get("/readyz", self._readyz),
                web.get("/metrics", self._metrics_page),
                *routes,
            ]
        )

    @property
    def port(self) -> int:
        """The port the listener is bound to (the chosen one when it was given 0)."""
        if self._runner is None or not self._runner.addresses:
            raise RuntimeError("the listener is not serving")
        address = self._runner.addresses[0]
        return int(address[1])

    def add_check(self, name: str, check: ReadinessCheck) -> None:
        """One more part /readyz waits for (a platform, once it is being started)."""
        self._checks[name] = check

    def shutting_down(self) -> None:
        """From now on /readyz answers 503, so a balancer stops sending work here while
        the process finishes what it has."""
        self._shutting_down = True

    async def __aenter__(self) -> Self:
        # No access log (a scrape every few seconds is noise) and no signal handlers: the
        # application owns SIGTERM.
        runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        _log.info("ops listener on http://%s:%d (/healthz /readyz /metrics)", self._host, self.port)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def _readyz(self, request: web.Request) -> web.Response:
        failing = await self.not_ready()
        body = {"ready": not failing, "not_ready": failing}
        return web.json_response(body, status=503 if failing else 200)

    async def not_ready(self) -> list[str]:
        """The names of what is not ready, in the checks' order; empty when all is ready."""
        if self._shutting_down:
            return [SHUTTING_DOWN]
        names = list(self._checks)
        results = await asyncio.gather(*(self._passes(name) for name in names))
        return [name for name, ready in zip(names, results, strict=True) if not ready]

    async def _passes(self, name: str) -> bool:
        """A check that raises or takes too long has not passed. Only the error's class is
        logged: its text might quote a URL with a key in it."""
        try:
            async with asyncio.timeout(self._check_timeout):
                return await self._checks[name]()
        except TimeoutError:
            _log.warning("readiness check %s took over %.1fs", name, self._check_timeout)
        except Exception as exc:  # noqa: BLE001 - one probe's boundary: any failure is "not ready"
            _log.warning("readiness check %s raised %s", name, type(exc).__name__)
        return False

    async def _metrics_page(self, request: web.Request) -> web.Response:
        if self._metrics is None:
            raise web.HTTPNotFound(text=json.dumps({"error": "metrics are off"}))
        body, content_type = self._metrics.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})
