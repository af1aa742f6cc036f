"""The fake Discord's REST routes: what each does to the state and what it answers.

Routes are spelled as discord.py's `Route` spells them; rate limits, auth and recording are
the server's business, not this module's.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tests.fakes.discord_state import DiscordState, Interaction, Upload, edited
from tests.fakes.discord_wire import EPHEMERAL, ApiError, JsonDict, check_content, too_long

Handler = Callable[[DiscordState, Mapping[str, str], JsonDict, list[Upload]], Any]
LOADING = 1 << 7
MESSAGE_TYPES = {4, 5}  # callbacks that create a response message
UPDATE_TYPES = {6, 7}  # callbacks that answer by (maybe) updating the component's message


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
    return f"messages:{match['channel_id']}"


def _webhook_bucket(match: Mapping[str, str]) -> str:
    return f"webhook:{match['webhook_id']}/{match['webhook_token']}"


# Identity and gateway.
def get_me(state: DiscordState, *_: Any) -> JsonDict:
    return copy.deepcopy(state.bot)


def get_application(state: DiscordState, *_: Any) -> JsonDict:
    return {
        "id": str(state.application_id), "name": state.bot["username"], "description": "",
        "icon": None, "bot_public": True, "bot_require_code_grant": False, "owner": state.bot,
        "verify_key": "0" * 64, "flags": 0, "summary": "", "team": None,
        "interactions_endpoint_url": None, "bot": state.bot,
    }  # fmt: skip


# Application commands.
def put_commands(state: DiscordState, match: Mapping[str, str], body: Any, *_: Any) -> Any:
    guild_id = int(match["guild_id"]) if "guild_id" in match else None
    return state.put_commands(guild_id, body if isinstance(body, list) else [])


def get_commands(state: DiscordState, match: Mapping[str, str], *_: Any) -> Any:
    if "guild_id" in match:
        return copy.deepcopy(state.guild_commands.get(int(match["guild_id"]), []))
    return copy.deepcopy(state.commands)


# Channels and messages.
def get_channel(state: DiscordState, match: Mapping[str, str], *_: Any) -> JsonDict:
    return copy.deepcopy(state.channel(int(match["channel_id"])))


def post_message(
    state: DiscordState, match: Mapping[str, str], body: JsonDict, uploads: list[Upload]
) -> JsonDict:
    check_content(body | ({"attachments": uploads} if uploads else {}))
    message = state.new_message(int(match["channel_id"]), state.bot, "")
    state.apply(message, body, uploads)
    return copy.deepcopy(state.store(message))


def patch_message(
    state: DiscordState, match: Mapping[str, str], body: JsonDict, uploads: list[Upload]
) -> JsonDict:
    message = state.message(int(match["channel_id"]), match["message_id"])
    if message["author"]["id"] != state.bot["id"] or message.get("webhook_id"):
        raise ApiError(403, "Cannot edit a message authored by another user", code=50005)
    if len(body.get("content") or "") > 2000:
        raise too_long("content")
    state.apply(message, body, uploads)
    return copy.deepcopy(edited(message))


def delete_message(state: DiscordState, match: Mapping[str, str], *_: Any) -> None:
    channel_id = int(match["channel_id"])
    state.message(channel_id, match["message_id"])
    del state.channels[channel_id][int(match["message_id"])]


def get_message(state: DiscordState, match: Mapping[str, str], *_: Any) -> JsonDict:
    return copy.deepcopy(state.message(int(match["channel_id"]), match["message_id"]))


def get_messages(state: DiscordState, match: Mapping[str, str], *_: Any) -> list[JsonDict]:
    """History, newest first (the fake ignores before/after/limit beyond the first 50)."""
    channel_id = int(match["channel_id"])
    state.guild_of(channel_id)
    return [copy.deepcopy(m) for m in reversed(state.channels[channel_id].values())][:50]


def typing(state: DiscordState, match: Mapping[str, str], *_: Any) -> None:
    state.guild_of(int(match["channel_id"]))


# Webhooks.
def get_channel_webhooks(state: DiscordState, match: Mapping[str, str], *_: Any) -> Any:
    channel_id = match["channel_id"]
    state.guild_of(int(channel_id))
    return [copy.deepcopy(w) for w in state.webhooks.values() if w["channel_id"] == channel_id]


def post_channel_webhook(
    state: DiscordState, match: Mapping[str, str], body: JsonDict, *_: Any
) -> JsonDict:
    channel_id = int(match["channel_id"])
    guild = state.guild_of(channel_id)
    webhook_id = state.ids.next()
    webhook = {
        "id": str(webhook_id), "type": 1, "channel_id": str(channel_id),
        "guild_id": str(guild.id), "name": body.get("name") or "Webhook", "avatar": None,
        "token": f"fake-webhook-token-{webhook_id}", "application_id": None, "user": state.bot,
    }  # fmt: skip
    state.webhooks[webhook_id] = webhook
    return copy.deepcopy(webhook)


def _webhook(state: DiscordState, match: Mapping[str, str]) -> JsonDict:
    webhook = state.webhooks.get(int(match["webhook_id"]))
    if webhook is None or webhook["token"] != match["webhook_token"]:
        raise ApiError(404, "Unknown Webhook", code=10015)
    return webhook


def _is_interaction(state: DiscordState, match: Mapping[str, str]) -> bool:
    return int(match["webhook_id"]) == state.application_id


def execute_webhook(
    state: DiscordState, match: Mapping[str, str], body: JsonDict, uploads: list[Upload]
) -> JsonDict:
    """A webhook post, or an interaction followup (the application id as webhook id)."""
    check_content(body | ({"attachments": uploads} if uploads else {}))
    if _is_interaction(state, match):
        interaction = state.by_token(match["webhook_token"])
        message = state.new_message(interaction.channel_id, state.bot, "")
        interaction.responses.append({"type": "followup", "data": body})
    else:
        webhook = _webhook(state, match)
        author = {
            "id": webhook["id"], "username": body.get("username") or webhook["name"],
            "avatar": None, "discriminator": "0000", "bot": True,
        }  # fmt: skip
        message = state.new_message(int(webhook["channel_id"]), author, "")
        message["webhook_id"] = webhook["id"]
        message["avatar_url"] = body.get("avatar_url")
    state.apply(message, body, uploads)
    return copy.deepcopy(state.store(message))


def _webhook_message(state: DiscordState, match: Mapping[str, str]) -> JsonDict:
    message_id = match["message_id"]
    if _is_interaction(state, match):
        interaction = state.by_token(match["webhook_token"])
        if message_id == "@original":
            if interaction.original_id is None:
                raise ApiError(404, "Unknown Message", code=10008)
            message_id = str(interaction.original_id)
        return state.message(interaction.channel_id, message_id)
    webhook = _webhook(state, match)
    message = state.message(int(webhook["channel_id"]), message_id)
    if message.get("webhook_id") != webhook["id"]:
        raise ApiError(404, "Unknown Message", code=10008)
    return message


def get_webhook_message(state: DiscordState, match: Mapping[str, str], *_: Any) -> JsonDict:
    return copy.deepcopy(_webhook_message(state, match))


def patch_webhook_message(
    state: DiscordState, match: Mapping[str, str], body: JsonDict, uploads: list[Upload]
) -> JsonDict:
    message = _webhook_message(state, match)
    if len(body.get("content") or "") > 2000:
        raise too_long("content")
    if _is_interaction(state, match):
        interaction = state.by_token(match["webhook_token"])
        kind = "edit_original" if match["message_id"] == "@original" else "edit_followup"
        interaction.responses.append({"type": kind, "data": body})
        message["flags"] = message.get("flags", 0) & ~LOADING
    state.apply(message, body, uploads)
    return copy.deepcopy(edited(message))


def delete_webhook_message(state: DiscordState, match: Mapping[str, str], *_: Any) -> None:
    message = _webhook_message(state, match)
    del state.channels[int(message["channel_id"])][int(message["id"])]


# Interactions.
def interaction_callback(
    state: DiscordState, match: Mapping[str, str], body: JsonDict, uploads: list[Upload]
) -> JsonDict:
    """Record the answer; types 4 and 5 post a message, 7 updates the component's message."""
    interaction = state.interactions.get(int(match["interaction_id"]))
    if interaction is None or interaction.token != match["interaction_token"]:
        raise ApiError(404, "Unknown interaction", code=10062)
    if any(isinstance(r["type"], int) for r in interaction.responses):
        raise ApiError(400, "Interaction has already been acknowledged.", code=40060)
    kind, data = int(body["type"]), body.get("data") or {}
    interaction.responses.append({"type": kind, "data": data})
    message = _respond(state, interaction, kind, data, uploads)
    answer: JsonDict = {
        "interaction": {
            "id": str(interaction.id), "type": interaction.type,
            "response_message_id": None if message is None else message["id"],
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(int(data.get("flags") or 0) & EPHEMERAL),
        },
        "resource": {"type": kind},
    }  # fmt: skip
    if message is not None and kind in {4, 7}:
        answer["resource"]["message"] = copy.deepcopy(message)
    return answer


def _respond(
    state: DiscordState, interaction: Interaction, kind: int, data: JsonDict, uploads: list[Upload]
) -> JsonDict | None:
    if kind in MESSAGE_TYPES:
        if kind == 4:
            check_content(data | ({"attachments": uploads} if uploads else {}))
        message = state.new_message(interaction.channel_id, state.bot, "")
        message["interaction_metadata"] = {
            "id": str(interaction.id), "type": interaction.type, "user": _user_of(interaction),
            "authorizing_integration_owners": {},
        }  # fmt: skip
        state.apply(message, data, uploads)
        if kind == 5:
            message["flags"] = int(data.get("flags") or 0) | LOADING
        interaction.original_id = int(message["id"])
        return state.store(message)
    if kind in UPDATE_TYPES and interaction.original_id is not None:
        message = state.message(interaction.channel_id, interaction.original_id)
        if kind == 7:
            state.apply(message, data, uploads)
            edited(message)
        return message
    return None


def _user_of(interaction: Interaction) -> JsonDict:
    user: JsonDict = interaction.payload["member"]["user"]
    return user


def routes() -> list[RestRoute]:
    """Every route the fake answers; anything else is a 404 the server records."""
    cid = "/channels/{channel_id}"
    webhook = "/webhooks/{webhook_id}/{webhook_token}"
    return [
        RestRoute("GET", "/users/@me", get_me),
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
        RestRoute("GET", cid + "/webhooks", get_channel_webhooks),
        RestRoute("POST", cid + "/webhooks", post_channel_webhook),
        RestRoute("POST", webhook, execute_webhook, _webhook_bucket, authenticated=False),
        RestRoute("GET", webhook + "/messages/{message_id}", get_webhook_message,
                  authenticated=False),
        RestRoute("PATCH", webhook + "/messages/{message_id}", patch_webhook_message,
                  _webhook_bucket, authenticated=False),
        RestRoute("DELETE", webhook + "/messages/{message_id}", delete_webhook_message,
                  authenticated=False),
        RestRoute("POST", "/interactions/{interaction_id}/{interaction_token}/callback",
                  interaction_callback, authenticated=False, global_limit=False),
    ]  # fmt: skip
