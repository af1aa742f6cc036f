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
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import BodyPartReader, web

from tests.fakes.discord_events import ALICE_ID, CHANNEL_ID, UserEvents
from tests.fakes.discord_gateway import GatewayFrame, GatewayHooks, GatewaySession, serve_gateway
from tests.fakes.discord_limits import (
    RateLimitEvent,
    RateLimits,
    rate_limited_body,
    rate_limited_headers,
)
from tests.fakes.discord_rest import RestRoute, routes
from tests.fakes.discord_state import DiscordState, Upload
from tests.fakes.discord_wire import (
    ADMINISTRATOR,
    MANAGE_WEBHOOKS,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    ApiError,
    JsonDict,
    user_dict,
)
from tests.fakes.telegram_waiting import ChangeSignal
from tests.fakes.threaded import serving_in_thread

_log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_TOKEN = "FakeDiscordBotToken.For.OfflineTests"
BOT_ID = 900_000_000_000_000_001
GUILD_ID = 910_000_000_000_000_001
API_PREFIX = "/api/v10"
GUILD_MEMBERS_INTENT = 1 << 1
MAX_UPLOAD_BYTES = 26 * 1024 * 1024
# Roughly what Discord's invite link grants a chat bot; no Manage Server.
BOT_PERMISSIONS = VIEW_CHANNEL | SEND_MESSAGES | MANAGE_WEBHOOKS | (1 << 14) | (1 << 15)


@dataclass(frozen=True, slots=True)
class Call:
    """One REST request as the fake answered it; `at` is its arrival on the fake's clock."""

    route: str  # "POST /channels/{channel_id}/messages", or "GET /unknown/path" for a 404
    params: dict[str, str]  # the route's path parameters
    body: Any  # the JSON body (payload_json for a multipart request), None without one
    at: float
    status: int

    @property
    def channel_id(self) -> int | None:
        value = self.params.get("channel_id")
        return int(value) if value is not None else None


@dataclass(frozen=True, slots=True)
class _Failure:
    status: int
    body: JsonDict
    headers: dict[str, str]


class FakeDiscord(UserEvents):
    """Discord on loopback: `async with FakeDiscord() as fake:`, or `FakeDiscord.in_thread()`.

    Starts with one guild (GUILD_ID, "Parlor Test") holding one text channel (CHANNEL_ID,
    "general"), the bot (BOT_ID, its own role with BOT_PERMISSIONS) and Alice (ALICE_ID, no
    role). What it remembers is in `state`; limits in `limits`, on the injected `clock`,
    which stamps `calls` and `gateway_frames` too. Every call, frame and injected event wakes
    `wait_for` (in the fake's loop) and `wait_for_sync` (in another thread): no sleeping.
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
        self._failures: dict[str, deque[_Failure]] = {}
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

    # Configuration.
    def add_channel(self, channel_id: int, name: str, *, guild_id: int = GUILD_ID) -> JsonDict:
        """A text channel; add it before the bot connects (no CHANNEL_CREATE is sent)."""
        with self._lock:
            return copy.deepcopy(self.state.add_channel(guild_id, channel_id, name))

    def add_member(
        self, user_id: int, username: str, *, permissions: int = 0, guild_id: int = GUILD_ID
    ) -> JsonDict:
        """A member whose own role grants `permissions` (e.g. MANAGE_GUILD = 1 << 5)."""
        with self._lock:
            self.state.add_member(guild_id, user_id, username, permissions=permissions)
            return copy.deepcopy(self.state.users[user_id])

    def add_guild(self, guild_id: int, name: str, *, owner_id: int = ALICE_ID) -> None:
        """Another guild, with the bot in it as ADMINISTRATOR; add channels with add_channel."""
        with self._lock:
            self.state.add_guild(guild_id, name, owner_id=owner_id)
            self.state.add_member(
                guild_id, int(self.bot["id"]), self.bot["username"], permissions=ADMINISTRATOR,
                bot=True,
            )  # fmt: skip

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
        if status == 429:
            body = rate_limited_body(retry_after)
            headers = rate_limited_headers(retry_after, "user")
            if not via:
                headers.pop("Via")
        else:
            body, headers = ApiError(status, message or f"{status}", code=code).payload(), {}
        with self._lock:
            self._failures.setdefault(route, deque()).append(_Failure(status, body, headers))

    # What the bot did.
    def calls_to(self, *route_names: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.route in route_names]

    def messages(
        self, channel_id: int = CHANNEL_ID, *, include_users: bool = False
    ) -> list[JsonDict]:
        """Messages in a channel as they stand now (edits applied, deletions gone): the bot's,
        webhooks' (author.username, avatar_url) and interaction responses; users' on request.
        Each carries the allowed_mentions it was sent with, if any."""
        with self._lock:
            return self.state.messages(channel_id, include_users=include_users)

    def message(self, channel_id: int, message_id: int | str) -> JsonDict:
        with self._lock:
            return copy.deepcopy(self.state.message(channel_id, message_id))

    def commands(self, guild_id: int | None = None) -> list[JsonDict]:
        """The synced application commands: global, or a guild's."""
        with self._lock:
            if guild_id is None:
                return copy.deepcopy(self.state.commands)
            return copy.deepcopy(self.state.guild_commands.get(guild_id, []))

    def interaction_responses(self, interaction_id: int | str) -> list[JsonDict]:
        """What the bot answered, in order: callbacks {"type": 4, "data": …}, then
        {"type": "edit_original" | "followup" | "edit_followup", "data": …}."""
        with self._lock:
            return copy.deepcopy(self.state.interactions[int(interaction_id)].responses)

    def webhooks(self, channel_id: int = CHANNEL_ID) -> list[JsonDict]:
        with self._lock:
            return [
                copy.deepcopy(w)
                for w in self.state.webhooks.values()
                if w["channel_id"] == str(channel_id)
            ]

    def uploaded(self, attachment_id: int | str) -> bytes:
        with self._lock:
            return self.state.uploads[int(attachment_id)].data

    # What a user does: the helpers in UserEvents build on this.
    def dispatch(self, event: str, data: JsonDict) -> None:
        """Send any dispatch as given; RuntimeError when no client has identified."""
        with self._lock:
            sessions = [s for s in self.sessions if s.identified]
        if not sessions:
            raise RuntimeError(f"no client on the gateway to send {event} to")
        for session in sessions:
            session.dispatch(event, copy.deepcopy(data))
        self._signal.notify()

    # Waiting without sleeping.
    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10.0,  # noqa: ASYNC109 - a test states its patience in one argument
    ) -> T:
        """The predicate's first truthy value, re-checked after every call, frame and event."""
        try:
            return await self._signal.wait_for(predicate, timeout)
        except TimeoutError:
            raise TimeoutError(self._timeout_message(timeout)) from None

    def wait_for_sync(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """wait_for for a thread other than the fake's (blocking the fake's own loop would hang)."""
        try:
            return self._signal.wait_for_sync(predicate, timeout)
        except TimeoutError:
            raise TimeoutError(self._timeout_message(timeout)) from None

    def _timeout_message(self, timeout: float) -> str:
        with self._lock:
            recent = ", ".join(f"{c.route}:{c.status}" for c in self.calls[-8:])
        return f"condition not met within {timeout} s; last calls: {recent or 'none'}"

    # Gateway.
    async def _serve_gateway(self, request: web.Request) -> web.WebSocketResponse:
        hooks = GatewayHooks(
            token=self.token, ready=self._ready_payload, guilds=self._guild_payloads,
            members_chunk=self._members_chunk, record=self._record_frame, clock=self.clock,
            resume_url=self.gateway_url, heartbeat_interval_ms=self.heartbeat_interval_ms,
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
            guilds = [{"id": str(gid), "unavailable": True} for gid in self.state.guilds]
            return {
                "v": 10, "user": copy.deepcopy(self.bot), "guilds": guilds,
                "session_id": session_id, "resume_gateway_url": resume_url,
                "application": {"id": str(self.state.application_id), "flags": 0},
                "private_channels": [], "relationships": [], "presences": [],
                "geo_ordered_rtc_regions": [], "guild_join_requests": [], "shard": [0, 1],
            }  # fmt: skip

    def _guild_payloads(self, intents: int) -> list[JsonDict]:
        """Without the GUILD_MEMBERS intent, Discord lists only the bot among the members."""
        only = None if intents & GUILD_MEMBERS_INTENT else int(self.bot["id"])
        with self._lock:
            return [guild.create_payload(only) for guild in self.state.guilds.values()]

    def _members_chunk(self, guild_id: int) -> JsonDict:
        with self._lock:
            guild = self.state.guilds[guild_id]
            members = [guild.member_dict(uid) for uid in guild.members]
        return {"guild_id": str(guild_id), "members": members, "chunk_index": 0, "chunk_count": 1}

    def _record_frame(self, frame: GatewayFrame) -> None:
        with self._lock:
            self.gateway_frames.append(frame)
        self._signal.notify()

    # REST.
    def _handler(self, route: RestRoute) -> Callable[[web.Request], Any]:
        async def serve(request: web.Request) -> web.Response:
            at, match = self.clock(), dict(request.match_info)
            body, uploads = await _read_body(request)
            status, headers, answer = self._outcome(request, route, match, body, uploads)
            if status == 200 and _empty_answer(route, request, answer):
                status, answer = 204, None
            return self._answer(Call(route.name, match, body, at, status), answer, headers)

        return serve

    def _outcome(
        self, request: web.Request, route: RestRoute, match: dict[str, str], body: Any,
        uploads: list[Upload],
    ) -> tuple[int, dict[str, str], Any]:  # fmt: skip
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
                route.name, route.bucket(match), global_limit=route.global_limit
            )
            if verdict.event is not None:
                self.rate_limited.append(verdict.event)
                return 429, verdict.headers, verdict.refused
            try:
                return 200, verdict.headers, route.handler(self.state, match, body or {}, uploads)
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


def _empty_answer(route: RestRoute, request: web.Request, answer: Any) -> bool:
    """204s: a webhook post without ?wait=true, a callback without ?with_response, a None."""
    if answer is None:
        return True
    if route.name == "POST /webhooks/{webhook_id}/{webhook_token}":
        return request.query.get("wait", "").lower() not in {"true", "1"}
    if route.path.endswith("/callback"):
        return request.query.get("with_response", "").lower() not in {"true", "1"}
    return False


async def _read_body(request: web.Request) -> tuple[Any, list[Upload]]:
    """JSON, or multipart with payload_json and files[n] (how discord.py sends uploads)."""
    if not request.can_read_body:
        return None, []
    if request.content_type.startswith("multipart/"):
        body: Any = None
        uploads: list[Upload] = []
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            data = await part.read()
            if part.name == "payload_json":
                body = json.loads(data)
            elif part.filename:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                uploads.append(Upload(part.filename, bytes(data), content_type))
        return body, uploads
    raw = await request.read()
    return (json.loads(raw) if raw else None), []
