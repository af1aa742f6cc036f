"""Webhooks on the fake Discord: created, fetched, edited (name, avatar) and deleted, and the
messages executed through them, in their channel or one of its threads.

The application's own webhook (the application id and an interaction token) is an
interaction's followup channel: those requests are handed to discord_callbacks.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import re
from typing import TYPE_CHECKING

from tests.fakes.discord import callbacks
from tests.fakes.discord.state import DiscordState, edited
from tests.fakes.discord.wire import EPHEMERAL, ApiError, JsonDict, check_content, too_long

if TYPE_CHECKING:
    from tests.fakes.discord.rest import RestRequest

IMAGE_DATA_URI = re.compile(r"data:image/(?:png|jpeg|gif|webp);base64,(?P<data>.+)", re.DOTALL)
AVATAR_HASH_CHARS = 32


def get_channel_webhooks(state: DiscordState, request: RestRequest) -> list[JsonDict]:
    channel_id = request.params["channel_id"]
    state.guild_of(int(channel_id))
    return [copy.deepcopy(w) for w in state.webhooks.values() if w["channel_id"] == channel_id]


def create_webhook(state: DiscordState, request: RestRequest) -> JsonDict:
    """A webhook in a text channel (Discord refuses threads and DMs), owned by the bot."""
    channel_id = int(request.params["channel_id"])
    guild = state.guild_of(channel_id)
    if channel_id not in guild.channels:
        raise ApiError(400, "Cannot execute action on this channel type", code=50024)
    webhook_id = state.ids.next()
    webhook = {
        "id": str(webhook_id), "type": 1, "channel_id": str(channel_id),
        "guild_id": str(guild.id), "name": request.json.get("name") or "Webhook",
        "avatar": None, "token": f"fake-webhook-token-{webhook_id}", "application_id": None,
        "user": state.bot,
    }  # fmt: skip
    if request.json.get("avatar"):
        _set_avatar(state, webhook, request.json["avatar"])
    state.webhooks[webhook_id] = webhook
    return copy.deepcopy(webhook)


def _webhook(state: DiscordState, request: RestRequest) -> JsonDict:
    """The webhook named by the path; its token must match when the path carries one."""
    webhook = state.webhooks.get(int(request.params["webhook_id"]))
    token = request.params.get("webhook_token")
    if webhook is None or (token is not None and webhook["token"] != token):
        raise ApiError(404, "Unknown Webhook", code=10015)
    return webhook


def get_webhook(state: DiscordState, request: RestRequest) -> JsonDict:
    return copy.deepcopy(_webhook(state, request))


def edit_webhook(state: DiscordState, request: RestRequest) -> JsonDict:
    """Name and avatar (a data: URI, or null to clear it); moving it to another channel needs
    the bot token, as on Discord."""
    webhook, body = _webhook(state, request), request.json
    if isinstance(body.get("name"), str):
        webhook["name"] = body["name"]
    if "avatar" in body:
        _set_avatar(state, webhook, body["avatar"])
    if body.get("channel_id") is not None:
        if "webhook_token" in request.params:
            raise ApiError(403, "Missing Access", code=50001)
        target = int(body["channel_id"])
        if target not in state.guilds[int(webhook["guild_id"])].channels:
            raise ApiError(400, "Unknown Channel", code=10003)
        webhook["channel_id"] = str(target)
    return copy.deepcopy(webhook)


def delete_webhook(state: DiscordState, request: RestRequest) -> None:
    webhook = _webhook(state, request)
    del state.webhooks[int(webhook["id"])]
    state.webhook_avatars.pop(int(webhook["id"]), None)


def _set_avatar(state: DiscordState, webhook: JsonDict, data_uri: str | None) -> None:
    """Keep the image's bytes; the hash is a digest prefix, shaped like Discord's."""
    webhook_id = int(webhook["id"])
    if data_uri is None:
        webhook["avatar"] = None
        state.webhook_avatars.pop(webhook_id, None)
        return
    data = decode_image_data_uri(data_uri)
    webhook["avatar"] = hashlib.sha256(data).hexdigest()[:AVATAR_HASH_CHARS]
    state.webhook_avatars[webhook_id] = data


def decode_image_data_uri(value: object) -> bytes:
    """The bytes of "data:image/png;base64,…"; anything else is Discord's invalid-image 400."""
    match = IMAGE_DATA_URI.fullmatch(value) if isinstance(value, str) else None
    try:
        if match is not None:
            return base64.b64decode(match["data"], validate=True)
    except binascii.Error:
        pass
    error = {"code": "IMAGE_INVALID", "message": "Invalid image data"}
    raise ApiError(400, "Invalid Form Body", code=50035, errors={"avatar": {"_errors": [error]}})


def _is_interaction(state: DiscordState, request: RestRequest) -> bool:
    return int(request.params["webhook_id"]) == state.application_id


def _target_channel(state: DiscordState, webhook: JsonDict, request: RestRequest) -> int:
    """The webhook's channel, or with ?thread_id= one of that channel's threads."""
    thread_id = request.query.get("thread_id")
    if thread_id is None:
        return int(webhook["channel_id"])
    thread = state.guilds[int(webhook["guild_id"])].threads.get(int(thread_id))
    if thread is None or thread["parent_id"] != webhook["channel_id"]:
        raise ApiError(400, "Unknown Channel", code=10003)
    return int(thread_id)


def _persona(webhook: JsonDict, body: JsonDict) -> JsonDict:
    """The author a webhook message shows: the `username` override or the webhook's name, and
    the webhook's avatar unless `avatar_url` overrides it (Discord fetches and hashes that
    image; the fake hashes the URL)."""
    avatar_url = body.get("avatar_url")
    avatar = webhook["avatar"]
    if avatar_url:
        avatar = hashlib.sha256(str(avatar_url).encode()).hexdigest()[:AVATAR_HASH_CHARS]
    return {
        "id": webhook["id"], "username": body.get("username") or webhook["name"],
        "avatar": avatar, "discriminator": "0000", "global_name": None, "bot": True,
    }  # fmt: skip


def execute_webhook(state: DiscordState, request: RestRequest) -> JsonDict:
    """A webhook post (into a thread with ?thread_id=), or an interaction followup."""
    if _is_interaction(state, request):
        return callbacks.followup(state, request.params["webhook_token"], request.json,
                                  request.uploads)  # fmt: skip
    body = request.json
    check_content(body | ({"attachments": request.uploads} if request.uploads else {}))
    webhook = _webhook(state, request)
    channel_id = _target_channel(state, webhook, request)
    message = state.new_message(channel_id, _persona(webhook, body), "")
    message["webhook_id"] = webhook["id"]
    message["avatar_url"] = body.get("avatar_url")
    state.apply(message, body, request.uploads)
    message["flags"] = int(message.get("flags") or 0) & ~EPHEMERAL  # for interactions only
    return copy.deepcopy(state.store(message))


def _webhook_message(state: DiscordState, request: RestRequest) -> JsonDict:
    """A message this webhook sent, looked for in its channel or in ?thread_id=."""
    if _is_interaction(state, request):
        return callbacks.response_message(
            state, request.params["webhook_token"], request.params["message_id"]
        )
    webhook = _webhook(state, request)
    channel_id = _target_channel(state, webhook, request)
    message = state.message(channel_id, request.params["message_id"])
    if message.get("webhook_id") != webhook["id"]:
        raise ApiError(404, "Unknown Message", code=10008)
    return message


def get_webhook_message(state: DiscordState, request: RestRequest) -> JsonDict:
    return copy.deepcopy(_webhook_message(state, request))


def patch_webhook_message(state: DiscordState, request: RestRequest) -> JsonDict:
    if _is_interaction(state, request):
        return callbacks.edit_response(
            state, request.params["webhook_token"], request.params["message_id"],
            request.json, request.uploads,
        )  # fmt: skip
    message = _webhook_message(state, request)
    if len(request.json.get("content") or "") > 2000:
        raise too_long("content")
    state.apply(message, request.json, request.uploads)
    return copy.deepcopy(edited(message))


def delete_webhook_message(state: DiscordState, request: RestRequest) -> None:
    if _is_interaction(state, request):
        callbacks.delete_response(
            state, request.params["webhook_token"], request.params["message_id"]
        )
        return
    state.remove(_webhook_message(state, request))
