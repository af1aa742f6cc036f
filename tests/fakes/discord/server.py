"""A fake Discord (REST API v10 and gateway) on 127.0.0.1: real HTTP and websockets, by aiohttp.

The real discord.py reaches it by two overrides: `discord.http.Route.BASE = fake.api_url` and
`DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)`. Tests inject gateway
events and read back what the bot did; knows nothing of the bot under test.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web

from tests.fakes.discord.calls import Call, Failure
from tests.fakes.discord.events import ALICE_ID, CHANNEL_ID, GUILD_ID, UserEvents
from tests.fakes.discord.gateway import (
    AUTHENTICATION_FAILED,
    PRIVILEGED_INTENTS,
    GatewayFrame,
    GatewayHooks,
    GatewaySession,
    owns,
    required_intent,
    serve_gateway,
)
from tests.fakes.discord.limits import RateLimitEvent, RateLimits
from tests.fakes.discord.readers import Readers
from tests.fakes.discord.rest import RestRequest, RestRoute, empty_answer, read_body, routes
from tests.fakes.discord.setup import Setup
from tests.fakes.discord.state import DiscordState
from tests.fakes.discord.wire import (
    MANAGE_WEBHOOKS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    ApiError,
    JsonDict,
    user_dict,
)
from tests.fakes.threaded import serving_in_thread
from tests.fakes.waiting import ChangeSignal, WaitsForChange

_log = logging.getLogger(__name__)

DEFAULT_TOKEN = "FakeDiscordBotToken.For.OfflineTests"
BOT_ID = 900_000_000_000_000_001
__all__ = ["ALICE_ID", "BOT_ID", "CHANNEL_ID", "GUILD_ID", "Call", "FakeDiscord"]
API_PREFIX = "/api/v10"
GUILD_MEMBERS_INTENT = 1 << 1
MAX_UPLOAD_BYTES = 26 * 1024 * 1024
# Roughly what Discord's invite link grants a chat bot; no Manage Server.
BOT_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | MANAGE_WEBHOOKS | (1 << 14) | (1 << 15)


class FakeDiscord(Setup, Readers, UserEvents, WaitsForChange):
    """Discord on loopback: `async with FakeDiscord() as fake:`, or `FakeDiscord.in_thread()`.

    Starts with one guild (GUILD_ID, "Parlor Test") holding one text channel (CHANNEL_ID,
    "general"), the bot (BOT_ID, its own role with BOT_PERMISSIONS) and Alice (ALICE_ID, no
    role); add threads and DMs with `add_thread` and `dm_channel`. Configuration is in Setup,
    read-back in Readers, user actions in UserEvents. What it remembers is in `state`; limits
    in `limits`, on the injected `clock`, which stamps `calls` and `gateway_frames` too. Every
    call, frame and injected event wakes `wait_for` (in the fake's loop) and `wait_for_sync`
    (in another thread): no sleeping.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        port: int = 0,
        bot_id: int = BOT_ID,
        username: str = "Parlor",
        bot_permissions: int = BOT_PERMISSIONS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.port = port
        self.clock = clock
        self.limits = RateLimits(clock)
        self.heartbeat_interval_ms = 41_250
        self.enabled_privileged_intents = PRIVILEGED_INTENTS  # as toggled in the portal
        self.state = DiscordState(user_dict(bot_id, username, bot=True), bot_id)
        self.state.add_guild(GUILD_ID, "Parlor Test", owner_id=ALICE_ID + 1)
        self.state.add_channel(GUILD_ID, CHANNEL_ID, "general")
        self.state.add_member(GUILD_ID, bot_id, username, permissions=bot_permissions, bot=True)
        self.state.add_member(GUILD_ID, ALICE_ID, "alice", permissions=0)
        self.calls: list[Call] = []
        self.gateway_frames: list[GatewayFrame] = []
        self.rate_limited: list[RateLimitEvent] = []
        self.server_errors: list[Exception] = []
        self.sessions: list[GatewaySession] = []
        self._failures: dict[str, deque[Failure]] = {}
        self._signal = ChangeSignal()
        self._lock = self._signal.lock
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """discord.http.Route.BASE (DISCORD_API_URL)."""
        return f"{self.base_url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """DiscordWebSocket.DEFAULT_GATEWAY (DISCORD_GATEWAY_URL)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    @property
    def bot(self) -> JsonDict:
        return self.state.bot

    @property
    def ready(self) -> bool:
        """A client has identified and been sent READY."""
        return any(session.identified for session in self.sessions)

    async def __aenter__(self) -> FakeDiscord:
        self._signal.attach()
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES)
        app.router.add_get("/gateway", self._serve_gateway)
        app.router.add_get(API_PREFIX + "/gateway", self._serve_gateway_url)
        app.router.add_get(API_PREFIX + "/gateway/bot", self._serve_gateway_url)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._serve_attachment)
        for route in routes():
            app.router.add_route(route.method, API_PREFIX + route.path, self._handler(route))
        app.router.add_route("*", API_PREFIX + "/{path:.*}", self._serve_unknown)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]
        self.state.base_url = self.base_url
        return self

    async def __aexit__(self, *_: object) -> None:
        for session in list(self.sessions):
            session.close_soon()
        if self._runner is not None:
            await self._runner.cleanup()
        self._signal.detach()

    @classmethod
    @contextlib.contextmanager
    def in_thread(cls, **kwargs: Any) -> Iterator[FakeDiscord]:
        """The fake in its own loop in a daemon thread, for a bot running as a subprocess."""
        with serving_in_thread(cls(**kwargs)) as fake:
            yield fake

    # Failures.
    def revoke_token(self) -> None:
        """What resetting the token in the developer portal does to a running bot: REST
        calls answer 401 from now on, and every gateway session is closed with 4004, so a
        reconnect cannot identify either. Callable from any thread."""
        with self._lock:
            self.token = f"reset-{uuid.uuid4().hex}"
            sessions = list(self.sessions)
        for session in sessions:
            session.close_with(AUTHENTICATION_FAILED)

    def fail_next(
        self,
        route: str,
        status: int = 429,
        *,
        message: str = "",
        code: int = 0,
        retry_after: float = 0.05,
        via: bool = True,
    ) -> None:
        """The next request to `route` ("POST /channels/{channel_id}/messages") gets this
        error instead of its answer (queued, one each). A 429 carries retry_after and, unless
        via=False (what Cloudflare's ban looks like to discord.py), the Via header."""
        failure = Failure.build(
            status, message=message, code=code, retry_after=retry_after, via=via
        )
        with self._lock:
            self._failures.setdefault(route, deque()).append(failure)

    # What the bot did.
    def calls_to(self, *route_names: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.route in route_names]

    # What a user does: the helpers in UserEvents build on this.
    def dispatch(self, event: str, data: JsonDict) -> None:
        """Send a dispatch as given to each client whose intents cover it (message events
        need GUILD_MESSAGES in a guild, DIRECT_MESSAGES in a DM; Discord silently withholds
        them otherwise) and whose shard owns its guild (a DM's: shard 0). RuntimeError when
        no client has identified."""
        with self._lock:
            sessions = [s for s in self.sessions if s.identified]
        if not sessions:
            raise RuntimeError(f"no client on the gateway to send {event} to")
        needed = required_intent(event, data)
        for session in sessions:
            if not owns(session.shard, data.get("guild_id")):
                continue
            if (session.intents or 0) & needed == needed:
                session.dispatch(event, copy.deepcopy(data))
            else:
                _log.info("withheld %s: the client's intents lack %s", event, needed)
        self._signal.notify()

    def announce(self, event: str, data: JsonDict) -> bool:
        """Dispatch only if a client has identified (before that, GUILD_CREATE carries it)."""
        if not self.ready:
            return False
        self.dispatch(event, data)
        return True

    def _recent_calls(self) -> list[str]:
        return [f"{c.route}:{c.status}" for c in self.calls[-8:]]

    # Gateway.
    async def _serve_gateway(self, request: web.Request) -> web.WebSocketResponse:
        hooks = GatewayHooks(
            token=self.token, ready=self._ready_payload, guilds=self._guild_payloads,
            members_chunk=self._members_chunk, record=self._record_frame, clock=self.clock,
            resume_url=self.gateway_url, heartbeat_interval_ms=self.heartbeat_interval_ms,
            enabled_privileged_intents=self.enabled_privileged_intents,
        )  # fmt: skip
        return await serve_gateway(request, hooks, self.sessions)

    async def _serve_gateway_url(self, request: web.Request) -> web.Response:
        body = {"url": self.gateway_url, "shards": 1}
        body["session_start_limit"] = {
            "total": 1000, "remaining": 1000, "reset_after": 0, "max_concurrency": 1,
        }  # fmt: skip
        return self._answer(Call("GET /gateway/bot", {}, None, self.clock(), 200), body)

    def _ready_payload(self, session_id: str, resume_url: str) -> JsonDict:
        with self._lock:
            return self.state.ready_payload(session_id, resume_url)

    def _guild_payloads(self, intents: int) -> list[JsonDict]:
        """Without the GUILD_MEMBERS intent, Discord lists only the bot among the members."""
        with self._lock:
            return self.state.guild_payloads(with_members=bool(intents & GUILD_MEMBERS_INTENT))

    def _members_chunk(self, guild_id: int) -> JsonDict:
        with self._lock:
            return self.state.members_chunk(guild_id)

    def _record_frame(self, frame: GatewayFrame) -> None:
        with self._lock:
            self.gateway_frames.append(frame)
        self._signal.notify()

    # REST.
    def _handler(self, route: RestRoute) -> Callable[[web.Request], Any]:
        async def serve(request: web.Request) -> web.Response:
            at, match = self.clock(), dict(request.match_info)
            body, uploads = await read_body(request)
            rest = RestRequest(match, body, uploads, dict(request.query))
            status, headers, answer = self._outcome(request, route, rest)
            if status == 200 and empty_answer(route, request, answer):
                status, answer = 204, None
            call = Call(route.name, match, body, at, status, dict(request.query))
            return self._answer(call, answer, headers)

        return serve

    def _outcome(
        self, request: web.Request, route: RestRoute, rest: RestRequest
    ) -> tuple[int, dict[str, str], Any]:
        """Status, headers and answer: the result, a Discord error, or a bug in the fake (500)."""
        with self._lock:
            if route.authenticated and request.headers.get("Authorization") != f"Bot {self.token}":
                return 401, {}, {"message": "401: Unauthorized", "code": 0}
            failures = self._failures.get(route.name)
            if failures:
                failure = failures.popleft()
                if failure.status == 429:
                    retry = float(failure.body["retry_after"])
                    self.rate_limited.append(
                        RateLimitEvent(route.name, "", "forced", retry, self.clock())
                    )
                return failure.status, failure.headers, failure.body
            verdict = self.limits.admit(
                route.name, route.bucket(rest.params), global_limit=route.global_limit
            )
            if verdict.event is not None:
                self.rate_limited.append(verdict.event)
                return 429, verdict.headers, verdict.refused
            try:
                return 200, verdict.headers, route.handler(self.state, rest)
            except ApiError as exc:
                return exc.status, verdict.headers, exc.payload()
            except Exception as exc:  # kept for the test to see, answered like a broken server
                _log.exception("the fake Discord server failed on %s", route.name)
                self.server_errors.append(exc)
                return 500, {}, {"message": f"Internal Server Error: {exc!r}", "code": 0}

    async def _serve_unknown(self, request: web.Request) -> web.Response:
        call = Call(f"{request.method} /{request.match_info['path']}", {}, None, self.clock(), 404)
        return self._answer(call, {"message": "404: Not Found", "code": 0})

    async def _serve_attachment(self, request: web.Request) -> web.Response:
        with self._lock:
            found = self.state.uploads.get(int(request.match_info["attachment_id"]))
        if found is None:
            raise web.HTTPNotFound
        return web.Response(body=found.data, content_type=found.content_type)

    def _answer(self, call: Call, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        """Record, then answer: a caller that got its answer always finds its call recorded."""
        with self._lock:
            self.calls.append(call)
        self._signal.notify()
        if call.status == 204:
            return web.Response(status=204, headers=headers)
        # Exactly "application/json", as Discord sends it: discord.py compares the header
        # verbatim, and aiohttp's json_response adds "; charset=utf-8".
        headers = (headers or {}) | {"Content-Type": "application/json"}
        return web.Response(body=json.dumps(body).encode(), status=call.status, headers=headers)
