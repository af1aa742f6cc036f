"""The fake Discord's REST routes: what each does to the state and what it answers.

Routes are spelled as discord.py's `Route` spells them; rate limits, auth and recording are
the server's business, not this module's, which only reads bodies as discord.py sends them.
Webhooks and interaction callbacks have their own modules; the table of every route is here.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes.discord import callbacks, webhooks
from tests.fakes.discord.state import DiscordState, Upload, edited
from tests.fakes.discord.wire import EPHEMERAL, ApiError, JsonDict, check_content, too_long


@dataclass(frozen=True, slots=True)
class RestRequest:
    """What a handler sees of a request: path and query parameters, the JSON body (a
    multipart request's payload_json) and its files."""

    params: Mapping[str, str]
    body: Any = None
    uploads: list[Upload] = field(default_factory=list)
    query: Mapping[str, str] = field(default_factory=dict)

    @property
    def json(self) -> JsonDict:
        """The body as an object; {} for none (or a list, which only PUT commands sends)."""
        return self.body if isinstance(self.body, dict) else {}


Handler = Callable[[DiscordState, RestRequest], Any]


@dataclass(frozen=True, slots=True)
class RestRoute:
    """One route: "POST /channels/{channel_id}/messages"; `bucket` names its rate limit."""

    method: str
    path: str
    handler: Handler
    bucket: Callable[[Mapping[str, str]], str | None] = lambda _: None
    authenticated: bool = True  # webhook-token routes need no bot token
    global_limit: bool = True  # interaction callbacks are exempt from the global limit

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


def _messages_bucket(match: Mapping[str, str]) -> str:
    """One bucket per channel: a thread's or a DM's is its own, not its parent's."""
    return f"messages:{match['channel_id']}"


def _webhook_bucket(match: Mapping[str, str]) -> str:
    """One bucket per webhook, whichever channel or thread its messages go to."""
    return f"webhook:{match['webhook_id']}/{match['webhook_token']}"


# Identity and gateway.
def get_me(state: DiscordState, _: RestRequest) -> JsonDict:
    return copy.deepcopy(state.bot)


def get_application(state: DiscordState, _: RestRequest) -> JsonDict:
    return {
        "id": str(state.application_id), "name": state.bot["username"], "description": "",
        "icon": None, "bot_public": True, "bot_require_code_grant": False, "owner": state.bot,
        "verify_key": "0" * 64, "flags": 0, "summary": "", "team": None,
        "interactions_endpoint_url": None, "bot": state.bot,
    }  # fmt: skip


def create_dm(state: DiscordState, request: RestRequest) -> JsonDict:
    """discord.py's user.create_dm(): the DM channel with `recipient_id`, opened or found."""
    recipient = request.json.get("recipient_id")
    if recipient is None:
        raise ApiError(400, "Invalid Form Body", code=50035)
    return copy.deepcopy(state.dm_channel(int(recipient)))


# Application commands.
def put_commands(state: DiscordState, request: RestRequest) -> Any:
    guild_id = int(request.params["guild_id"]) if "guild_id" in request.params else None
    return state.put_commands(guild_id, request.body if isinstance(request.body, list) else [])


def get_commands(state: DiscordState, request: RestRequest) -> Any:
    if "guild_id" in request.params:
        return copy.deepcopy(state.guild_commands.get(int(request.params["guild_id"]), []))
    return copy.deepcopy(state.commands)


# Channels and messages: a guild's text channels and threads, and DMs.
def _channel_id(request: RestRequest) -> int:
    return int(request.params["channel_id"])


def get_channel(state: DiscordState, request: RestRequest) -> JsonDict:
    return copy.deepcopy(state.channel(_channel_id(request)))


def post_message(state: DiscordState, request: RestRequest) -> JsonDict:
    check_content(request.json | ({"attachments": request.uploads} if request.uploads else {}))
    message = state.new_message(_channel_id(request), state.bot, "")
    state.apply(message, request.json, request.uploads)
    message["flags"] = int(message.get("flags") or 0) & ~EPHEMERAL  # for interactions only
    return copy.deepcopy(state.store(message))


def patch_message(state: DiscordState, request: RestRequest) -> JsonDict:
    message = state.message(_channel_id(request), request.params["message_id"])
    if message["author"]["id"] != state.bot["id"] or message.get("webhook_id"):
        raise ApiError(403, "Cannot edit a message authored by another user", code=50005)
    if len(request.json.get("content") or "") > 2000:
        raise too_long("content")
    state.apply(message, request.json, request.uploads)
    return copy.deepcopy(edited(message))


def delete_message(state: DiscordState, request: RestRequest) -> None:
    state.remove(state.message(_channel_id(request), request.params["message_id"]))


def get_message(state: DiscordState, request: RestRequest) -> JsonDict:
    return copy.deepcopy(state.message(_channel_id(request), request.params["message_id"]))


def get_messages(state: DiscordState, request: RestRequest) -> list[JsonDict]:
    """History, newest first (the fake ignores before/after/limit beyond the first 50)."""
    channel_id = _channel_id(request)
    state.guild_id_of(channel_id)
    return [copy.deepcopy(m) for m in reversed(state.channels[channel_id].values())][:50]


def typing(state: DiscordState, request: RestRequest) -> None:
    state.guild_id_of(_channel_id(request))


def empty_answer(route: RestRoute, request: web.Request, answer: Any) -> bool:
    """204s: a webhook post without ?wait=true, a callback without ?with_response, a None."""
    if answer is None:
        return True
    if route.name == "POST /webhooks/{webhook_id}/{webhook_token}":
        return request.query.get("wait", "").lower() not in {"true", "1"}
    if route.path.endswith("/callback"):
        return request.query.get("with_response", "").lower() not in {"true", "1"}
    return False


async def read_body(request: web.Request) -> tuple[Any, list[Upload]]:
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


def routes() -> list[RestRoute]:
    """Every route the fake answers; anything else is a 404 the server records."""
    cid = "/channels/{channel_id}"
    wid = "/webhooks/{webhook_id}"
    webhook = wid + "/{webhook_token}"
    message = webhook + "/messages/{message_id}"
    return [
        RestRoute("GET", "/users/@me", get_me),
        RestRoute("POST", "/users/@me/channels", create_dm),
        RestRoute("GET", "/oauth2/applications/@me", get_application),
        RestRoute("GET", "/applications/{application_id}/commands", get_commands),
        RestRoute("PUT", "/applications/{application_id}/commands", put_commands),
        RestRoute("GET", "/applications/{application_id}/guilds/{guild_id}/commands", get_commands),
        RestRoute("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", put_commands),
        RestRoute("GET", cid, get_channel),
        RestRoute("POST", cid + "/messages", post_message, _messages_bucket),
        RestRoute("GET", cid + "/messages", get_messages),
        RestRoute("GET", cid + "/messages/{message_id}", get_message),
        RestRoute("PATCH", cid + "/messages/{message_id}", patch_message, _messages_bucket),
        RestRoute("DELETE", cid + "/messages/{message_id}", delete_message),
        RestRoute("POST", cid + "/typing", typing),
        RestRoute("GET", cid + "/webhooks", webhooks.get_channel_webhooks),
        RestRoute("POST", cid + "/webhooks", webhooks.create_webhook),
        RestRoute("GET", wid, webhooks.get_webhook),
        RestRoute("PATCH", wid, webhooks.edit_webhook),
        RestRoute("DELETE", wid, webhooks.delete_webhook),
        RestRoute("GET", webhook, webhooks.get_webhook, authenticated=False),
        RestRoute("PATCH", webhook, webhooks.edit_webhook, authenticated=False),
        RestRoute("DELETE", webhook, webhooks.delete_webhook, authenticated=False),
        RestRoute("POST", webhook, webhooks.execute_webhook, _webhook_bucket, authenticated=False),
        RestRoute("GET", message, webhooks.get_webhook_message, authenticated=False),
        RestRoute("PATCH", message, webhooks.patch_webhook_message, _webhook_bucket,
                  authenticated=False),
        RestRoute("DELETE", message, webhooks.delete_webhook_message, authenticated=False),
        RestRoute("POST", "/interactions/{interaction_id}/{interaction_token}/callback",
                  callbacks.interaction_callback, authenticated=False, global_limit=False),
    ]  # fmt: skip
