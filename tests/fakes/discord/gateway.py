"""The fake Discord gateway: one websocket session speaking v10 JSON, optionally zlib-stream.

Handles HELLO, IDENTIFY, heartbeats, RESUME and member requests, and sends dispatches queued
from any thread in order; what READY and GUILD_CREATE carry is given by its owner. A session
that identifies as a shard is sent only its shard's guilds, as Discord routes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord.wire import JsonDict

_log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, REQUEST_MEMBERS = 0, 1, 2, 6, 8
INVALID_SESSION, HELLO, HEARTBEAT_ACK = 9, 10, 11
AUTHENTICATION_FAILED = 4004
INVALID_SHARD = 4010
DISALLOWED_INTENTS = 4014
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
"""Guild members, presences and message content: each must be enabled in the portal."""
SYNC_FLUSH_SUFFIX = b"\x00\x00\xff\xff"
GUILDS_INTENT, GUILD_MESSAGES_INTENT, DIRECT_MESSAGES_INTENT = 1 << 0, 1 << 9, 1 << 12
MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE", "MESSAGE_DELETE_BULK"}
GUILDS_EVENTS = {"THREAD_CREATE", "THREAD_UPDATE", "THREAD_DELETE", "CHANNEL_CREATE"}


def owns(shard: tuple[int, int], guild_id: object) -> bool:
    """Whether shard (id, count) is sent a guild's events: Discord's (guild_id >> 22) % count.
    Events outside any guild (DMs) go to shard 0 alone."""
    shard_id, count = shard
    if guild_id is None:
        return shard_id == 0
    return (int(str(guild_id)) >> 22) % count == shard_id


def required_intent(event: str, data: JsonDict) -> int:
    """The intent a client needs to be sent this dispatch; 0 for those Discord always sends
    (READY, INTERACTION_CREATE, anything the fake does not classify)."""
    if event in MESSAGE_EVENTS:
        return GUILD_MESSAGES_INTENT if "guild_id" in data else DIRECT_MESSAGES_INTENT
    if event in GUILDS_EVENTS:
        return GUILDS_INTENT
    return 0


@dataclass(frozen=True, slots=True)
class GatewayFrame:
    """One frame the client sent, decoded, with its arrival on the fake's clock."""

    op: int
    d: Any
    at: float


@dataclass(slots=True)
class GatewayHooks:
    """What a session asks of the fake: the token, READY's payload, guilds, and a recorder."""

    token: str
    ready: Callable[[str, str], JsonDict]  # (session_id, resume_gateway_url) -> READY's d
    guilds: Callable[[int], list[JsonDict]]  # GUILD_CREATE payloads, given the intents
    members_chunk: Callable[[int], JsonDict]  # GUILD_MEMBERS_CHUNK for a guild id
    record: Callable[[GatewayFrame], None]
    clock: Callable[[], float]
    resume_url: str
    heartbeat_interval_ms: int = 41_250
    enabled_privileged_intents: int = PRIVILEGED_INTENTS  # what the developer portal allows


@dataclass(slots=True)
class GatewaySession:
    """One connected client. `identified` once READY went out; `send` is thread-safe."""

    ws: web.WebSocketResponse
    loop: asyncio.AbstractEventLoop
    compressor: Any = None  # zlib.compressobj when the client asked for zlib-stream
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    identified: bool = False
    intents: int | None = None
    shard: tuple[int, int] = (0, 1)  # (id, count) from IDENTIFY; unsharded is shard 0 of 1
    sequence: int = 0
    _outbox: asyncio.Queue[JsonDict | None] = field(default_factory=asyncio.Queue)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, payload: JsonDict) -> None:
        """Queue a frame; dispatches get the next sequence number now, so order is kept."""
        with self._lock:
            if payload.get("op") == DISPATCH:
                self.sequence += 1
                payload = payload | {"s": self.sequence}
            else:
                payload = {"s": None, "t": None} | payload
        self.loop.call_soon_threadsafe(self._outbox.put_nowait, payload)

    def dispatch(self, event: str, data: JsonDict) -> None:
        self.send({"op": DISPATCH, "t": event, "d": data})

    def close_soon(self) -> None:
        self.loop.call_soon_threadsafe(self._outbox.put_nowait, None)

    def close_with(self, code: int) -> None:
        """Close the socket with a gateway close code, as Discord ends a session it refuses."""
        self.loop.call_soon_threadsafe(lambda: self.loop.create_task(self.ws.close(code=code)))

    async def pump(self) -> None:
        """Write queued frames until told to stop (None) or the socket closes."""
        while (payload := await self._outbox.get()) is not None:
            text = json.dumps(payload)
            if self.compressor is None:
                await self.ws.send_str(text)
            else:  # zlib-stream: one shared context, each message ends in a sync flush
                data = self.compressor.compress(text.encode()) + self.compressor.flush(
                    zlib.Z_SYNC_FLUSH
                )
                await self.ws.send_bytes(data)
        await self.ws.close()


async def serve_gateway(
    request: web.Request, hooks: GatewayHooks, sessions: list[GatewaySession]
) -> web.WebSocketResponse:
    """Run one session: HELLO, then answer the client's frames until it hangs up.

    The session is listed in `sessions` while connected. zlib-stream is honoured because
    discord.py asks for it whenever zstandard is missing; "zstd-stream" is refused (4000).
    """
    ws = web.WebSocketResponse(autoping=True)
    await ws.prepare(request)
    compress = request.query.get("compress")
    session = GatewaySession(ws, asyncio.get_running_loop())
    if compress == "zlib-stream":
        session.compressor = zlib.compressobj()
    elif compress:
        await ws.close(code=4000, message=b"unsupported compression")
        return ws
    pump = asyncio.create_task(session.pump(), name="fake-discord-gateway-pump")
    sessions.append(session)
    try:
        session.send({"op": HELLO, "d": {"heartbeat_interval": hooks.heartbeat_interval_ms}})
        async for message in ws:
            if message.type != WSMsgType.TEXT:
                continue
            frame = json.loads(message.data)
            hooks.record(GatewayFrame(frame.get("op"), frame.get("d"), hooks.clock()))
            _answer(session, hooks, frame.get("op"), frame.get("d"))
    finally:
        sessions.remove(session)
        session.identified = False
        session.close_soon()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await asyncio.wait_for(pump, timeout=2.0)
    return ws


def _answer(session: GatewaySession, hooks: GatewayHooks, op: int | None, data: Any) -> None:
    if op == HEARTBEAT:
        session.send({"op": HEARTBEAT_ACK})
    elif op == IDENTIFY:
        if not isinstance(data, dict) or data.get("token") != hooks.token:
            session.loop.create_task(session.ws.close(code=AUTHENTICATION_FAILED))
            return
        session.intents = data.get("intents")
        refused = (session.intents or 0) & PRIVILEGED_INTENTS & ~hooks.enabled_privileged_intents
        if refused:  # as Discord does for an intent not enabled in the developer portal
            session.loop.create_task(session.ws.close(code=DISALLOWED_INTENTS))
            return
        shard = data.get("shard") or [0, 1]
        if not (isinstance(shard, list) and len(shard) == 2 and 0 <= shard[0] < shard[1]):
            session.loop.create_task(session.ws.close(code=INVALID_SHARD))
            return
        session.shard = (int(shard[0]), int(shard[1]))
        ready = hooks.ready(session.session_id, hooks.resume_url)
        ready["shard"] = list(session.shard)
        ready["guilds"] = [g for g in ready["guilds"] if owns(session.shard, g["id"])]
        session.dispatch("READY", ready)
        for guild in hooks.guilds(session.intents or 0):
            if owns(session.shard, guild["id"]):
                session.dispatch("GUILD_CREATE", guild)
        session.identified = True
    elif op == RESUME:
        # Nothing was missed that the fake could replay: the client must identify afresh.
        session.send({"op": INVALID_SESSION, "d": False})
    elif op == REQUEST_MEMBERS and isinstance(data, dict):
        chunk = hooks.members_chunk(int(data["guild_id"]))
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
    else:
        _log.debug("fake gateway ignores op %s", op)
