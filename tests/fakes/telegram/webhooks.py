"""The fake Telegram's webhook: what setWebhook set, and the courier that POSTs each queued
update to it with the secret header, as Telegram does, retrying until a 2xx.

`targets` stands in for a load balancer: the updates for the webhook's URL go to these
listener URLs in turn instead. Knows the update queue and HTTP, nothing of the Bot API's
methods (methods.py) or the server's routes (server.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp

from tests.fakes.telegram.updates import JsonDict, UpdateQueue

if TYPE_CHECKING:
    from tests.fakes.telegram.state import TelegramState
from tests.fakes.telegram.wire import ApiError
from tests.fakes.waiting import ChangeSignal

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
RETRY_SECONDS = 0.2
"""How soon a refused delivery is tried again (Telegram waits longer; tests should not)."""
POST_TIMEOUT_SECONDS = 10.0
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


@dataclass(slots=True)
class Webhook:
    """What setWebhook set; the last error as getWebhookInfo reports it."""

    url: str
    secret: str | None = field(repr=False)
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST of an update: where it went, the header sent, and how it was answered."""

    update_id: int
    url: str
    status: int  # 0: no answer (refused connection, timeout)
    chat_id: int | None = None  # the chat the update is from, when it has one


def checked_webhook(params: JsonDict) -> Webhook:
    """setWebhook's parameters as Telegram checks them (http only to a loopback host,
    so tests need no TLS)."""
    url = params.get("url")
    if not isinstance(url, str):
        raise ApiError.bad_request("bad webhook: Webhook URL must be a string")
    secret = params.get("secret_token")
    if secret is not None and (not isinstance(secret, str) or not _SECRET.fullmatch(secret)):
        raise ApiError.bad_request("secret token contains unallowed characters")
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit(":", 1)[0].strip("[]")
    if scheme != "https" and not (scheme == "http" and _loopback(host)):
        raise ApiError.bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    connections = params.get("max_connections", 40)
    return Webhook(url, secret, max_connections=int(connections))


def webhook_info(webhook: Webhook | None, updates: UpdateQueue) -> JsonDict:
    """getWebhookInfo's answer: an empty url when none is set."""
    info: JsonDict = {
        "url": webhook.url if webhook else "",
        "has_custom_certificate": False,
        "pending_update_count": len(updates),
    }
    if webhook is None:
        return info
    info["max_connections"] = webhook.max_connections
    if updates.allowed is not None:
        info["allowed_updates"] = sorted(updates.allowed)
    if webhook.last_error_date is not None:
        info["last_error_date"] = webhook.last_error_date
        info["last_error_message"] = webhook.last_error_message
    return info


class Courier:
    """Delivers the queue's updates one at a time, oldest first, to the webhook (or the
    `targets` in turn); an update stays queued until a delivery is answered 2xx.

    `header` replaces the secret sent (None: the one setWebhook set; "" sends none), for
    tests of a listener that must refuse. Runs in the fake's loop; every delivery notifies.
    """

    def __init__(self, signal: ChangeSignal, state: TelegramState) -> None:
        self._signal = signal
        self._state = state
        self._updates = state.updates
        self.targets: list[str] = []
        self.header: str | None = None
        self.deliveries: list[Delivery] = []
        self.answers_to_lose = 0
        """How many of the next 2xx answers are lost on the way: those updates stay queued
        and are delivered again (to the next target), as Telegram does when our 200 never
        reaches it."""
        self._turn = 0
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Courier:
        self._task = asyncio.create_task(self._run(), name="fake-telegram-courier")
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        timeout = aiohttp.ClientTimeout(total=POST_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                changed = self._signal.generation()
                with self._signal.lock:
                    job = self._next()
                if job is None:
                    await changed.wait()
                    continue
                delivered = await self._deliver(session, *job)
                if not delivered:  # Telegram backs off before trying again
                    await asyncio.sleep(RETRY_SECONDS)

    def _next(self) -> tuple[str, dict[str, str], JsonDict] | None:
        """The next delivery (url, headers, update), or None while there is nothing to do."""
        webhook = self._state.webhook
        if webhook is None:
            return None
        batch = self._updates.batch(1)
        if not batch:
            return None
        targets = self.targets or [webhook.url]
        url = targets[self._turn % len(targets)]
        self._turn += 1
        secret = webhook.secret if self.header is None else self.header
        headers = {"Content-Type": "application/json"}
        if secret:
            headers[SECRET_HEADER] = secret
        return url, headers, copy.deepcopy(batch[0])

    async def _deliver(
        self, session: aiohttp.ClientSession, url: str, headers: dict[str, str], update: JsonDict
    ) -> bool:
        try:
            async with session.post(url, json=update, headers=headers) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError):
            status = 0
        update_id: int = update["update_id"]
        with self._signal.lock:
            self.deliveries.append(Delivery(update_id, url, status, _chat_of(update)))
            if 200 <= status < 300 and self.answers_to_lose > 0:
                self.answers_to_lose -= 1
            elif 200 <= status < 300:
                self._updates.confirm(update_id + 1)
            elif self._state.webhook is not None:
                self._state.webhook.last_error_date = int(time.time())
                self._state.webhook.last_error_message = _error_message(status)
        self._signal.notify()
        return 200 <= status < 300


def _chat_of(update: JsonDict) -> int | None:
    payload = next((value for key, value in update.items() if key != "update_id"), None)
    if not isinstance(payload, dict):
        return None
    chat = (payload.get("message") or payload).get("chat")
    return chat.get("id") if isinstance(chat, dict) else None


def _error_message(status: int) -> str:
    """Telegram's words for a webhook that did not answer 2xx."""
    if status == 0:
        return "Connection refused"
    reasons: dict[int, str] = {400: "Bad Request", 403: "Forbidden", 413: "Payload Too Large"}
    reasons |= {500: "Internal Server Error", 503: "Service Unavailable"}
    return f"Wrong response from the webhook: {status} {reasons.get(status, '')}".rstrip()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False
