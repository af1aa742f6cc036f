"""Receives a platform's webhook on the operator's HTTP listener: the secret header checked in
constant time, the body capped and read as a JSON object, handed on, answered at once.

Knows HTTP only: what an update means is the platform adapter's business (the `UpdateSink`
the composition root attaches), so this module imports no chat SDK.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Mapping

from aiohttp import web

_log = logging.getLogger(__name__)

TELEGRAM_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_UPDATE_BYTES = 1024 * 1024
"""A Telegram update is tens of kilobytes at most (a 4,096-character text, the message it
quotes, their entities); a mebibyte leaves room and still bounds what a stranger can make
us hold in memory."""

REFUSAL_LOG_EVERY = 100

UpdateSink = Callable[[Mapping[str, object]], None]
"""Takes one update (a JSON object) for handling later and returns at once; raises
ValueError for an object that is not an update, which is answered 400."""


class WebhookReceiver:
    """One webhook route: `route()` goes to the listener before it starts, `attach` names
    who takes the updates once they can be handled, `detach` stops taking them.

    Answers: 403 for a missing or wrong secret (nothing read further), 413 for a body over
    the cap, 400 for one that is not a JSON object or not an update, 503 while no sink is
    attached (starting or shutting down: Telegram delivers it again later, perhaps to
    another worker), else 200 as soon as the sink has queued it. The handling itself is
    never awaited: Telegram retries a webhook that answers slowly.
    """

    def __init__(
        self,
        *,
        path: str,
        secret: str,
        header: str = TELEGRAM_HEADER,
        max_bytes: int = MAX_UPDATE_BYTES,
    ) -> None:
        self.path = path
        self._secret = secret.encode()
        self._header = header
        self._max_bytes = max_bytes
        self._sink: UpdateSink | None = None
        self.refused = 0
        """Requests turned away for their secret: a balancer or a stranger misrouting."""

    def route(self) -> web.RouteDef:
        return web.post(self.path, self._receive)

    def attach(self, sink: UpdateSink | None) -> None:
        """From now on updates go to `sink`; None answers 503 until one is attached again."""
        self._sink = sink

    async def _receive(self, request: web.Request) -> web.Response:
        given = request.headers.get(self._header, "").encode()
        if not hmac.compare_digest(given, self._secret):
            self.refused += 1
            if self.refused % REFUSAL_LOG_EVERY == 1:  # a scanner must not flood the log
                _log.warning(
                    "webhook: refused %d requests without the right secret header (check "
                    "that every worker has the same secret)",
                    self.refused,
                )
            return _status(403, "forbidden")
        sink = self._sink
        if sink is None:
            return _status(503, "not taking updates yet")
        body = await _capped_body(request, self._max_bytes)
        if body is None:
            return _status(413, "too large")
        try:
            update = json.loads(body)
            if isinstance(update, dict):
                sink(update)
        except ValueError as exc:
            _log.warning("webhook: refused a body that is not an update (%s)", type(exc).__name__)
            return _status(400, "not an update")
        if not isinstance(update, dict):
            return _status(400, "not a JSON object")
        return _status(200, "ok")


async def _capped_body(request: web.Request, max_bytes: int) -> bytes | None:
    """The body, or None once it is over `max_bytes` (read no further than that)."""
    if request.content_length is not None and request.content_length > max_bytes:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _status(status: int, text: str) -> web.Response:
    return web.json_response({"status": text}, status=status)
