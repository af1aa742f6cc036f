"""Answers to interactions on the fake Discord: the callback, then the original response and
followups through the application's webhook (the application id and the interaction token).

What the bot answered is recorded on the Interaction in order; messages it created are listed
there too, ephemeral ones kept out of the channel (only the user who interacted sees them).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from tests.fakes.discord.interactions import Interaction
from tests.fakes.discord.state import DiscordState, Upload, edited
from tests.fakes.discord.wire import EPHEMERAL, ApiError, JsonDict, check_content, too_long

if TYPE_CHECKING:
    from tests.fakes.discord.rest import RestRequest

LOADING = 1 << 7
MESSAGE_TYPES = {4, 5}  # callbacks that create a response message
UPDATE_TYPES = {6, 7}  # callbacks that answer by (maybe) updating the component's message
AUTOCOMPLETE_INTERACTION, MODAL_SUBMIT_INTERACTION = 4, 5
AUTOCOMPLETE_RESULT, MODAL = 8, 9


def interaction_callback(state: DiscordState, request: RestRequest) -> JsonDict:
    """Record the answer; types 4 and 5 post a message, 7 updates the component's message."""
    interaction = state.interactions.get(int(request.params["interaction_id"]))
    if interaction is None or interaction.token != request.params["interaction_token"]:
        raise ApiError(404, "Unknown interaction", code=10062)
    if any(isinstance(r["type"], int) for r in interaction.responses):
        raise ApiError(400, "Interaction has already been acknowledged.", code=40060)
    kind, data = int(request.json["type"]), request.json.get("data") or {}
    _check_kind(interaction, kind)
    interaction.responses.append({"type": kind, "data": data})
    message = _respond(state, interaction, kind, data, request.uploads)
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


def _check_kind(interaction: Interaction, kind: int) -> None:
    """Discord's refusals: autocomplete is answered with choices and only with choices; a
    modal cannot answer a modal; only a component's interaction can update its message."""
    autocomplete = interaction.type == AUTOCOMPLETE_INTERACTION
    if (
        autocomplete != (kind == AUTOCOMPLETE_RESULT)
        or (kind == MODAL and interaction.type == MODAL_SUBMIT_INTERACTION)
        or (kind in UPDATE_TYPES and interaction.original_id is None)
    ):
        raise ApiError(400, f"Interaction response type {kind} is not valid here", code=50035)


def _respond(
    state: DiscordState, interaction: Interaction, kind: int, data: JsonDict, uploads: list[Upload]
) -> JsonDict | None:
    if kind in MESSAGE_TYPES:
        if kind == 4:
            check_content(data | ({"attachments": uploads} if uploads else {}))
        message = _new_response(state, interaction, data, uploads)
        if kind == 5:
            message["flags"] = int(data.get("flags") or 0) | LOADING
        interaction.original_id = int(message["id"])
        return state.store(message)
    if kind in UPDATE_TYPES and interaction.original_id is not None:
        message = state.visible_message(interaction.channel_id, interaction.original_id)
        if kind == 7:
            state.apply(message, data, uploads)
            edited(message)
        return message
    return None


def _new_response(
    state: DiscordState, interaction: Interaction, data: JsonDict, uploads: list[Upload]
) -> JsonDict:
    """A message the interaction created (not yet stored), listed on the interaction."""
    message = state.new_message(interaction.channel_id, state.bot, "")
    message["interaction_metadata"] = {
        "id": str(interaction.id), "type": interaction.type, "user": interaction.user,
        "authorizing_integration_owners": {},
    }  # fmt: skip
    state.apply(message, data, uploads)
    interaction.message_ids.append(int(message["id"]))
    return message


def followup(state: DiscordState, token: str, body: JsonDict, uploads: list[Upload]) -> JsonDict:
    """A followup message; right after a deferral (type 5) Discord makes it edit the loading
    message instead, keeping that message's ephemeral flag whatever the followup asked."""
    interaction = state.by_token(token)
    check_content(body | ({"attachments": uploads} if uploads else {}))
    interaction.responses.append({"type": "followup", "data": body})
    loading = _loading_original(state, interaction)
    if loading is not None:
        ephemeral = int(loading["flags"]) & EPHEMERAL
        state.apply(loading, body, uploads)
        _settle(loading, ephemeral)
        return copy.deepcopy(edited(loading))
    return copy.deepcopy(state.store(_new_response(state, interaction, body, uploads)))


def _loading_original(state: DiscordState, interaction: Interaction) -> JsonDict | None:
    if interaction.original_id is None or interaction.original_id not in interaction.message_ids:
        return None
    try:
        message = state.visible_message(interaction.channel_id, interaction.original_id)
    except ApiError:
        return None
    return message if int(message.get("flags") or 0) & LOADING else None


def response_message(state: DiscordState, token: str, message_id: str) -> JsonDict:
    """@original (the response, or for a component the message it sits on) or a followup."""
    interaction = state.by_token(token)
    if message_id == "@original":
        if interaction.original_id is None:
            raise ApiError(404, "Unknown Message", code=10008)
        message_id = str(interaction.original_id)
    return state.visible_message(interaction.channel_id, message_id)


def edit_response(
    state: DiscordState, token: str, message_id: str, body: JsonDict, uploads: list[Upload]
) -> JsonDict:
    """Edit @original or a followup: recorded as "edit_original" or "edit_followup"; an edit
    ends the loading state of a deferred response."""
    message = response_message(state, token, message_id)
    if len(body.get("content") or "") > 2000:
        raise too_long("content")
    kind = "edit_original" if message_id == "@original" else "edit_followup"
    state.by_token(token).responses.append({"type": kind, "data": body})
    ephemeral = int(message.get("flags") or 0) & EPHEMERAL
    state.apply(message, body, uploads)
    _settle(message, ephemeral)
    return copy.deepcopy(edited(message))


def delete_response(state: DiscordState, token: str, message_id: str) -> None:
    """Delete @original or a followup: recorded as "delete_original" or "delete_followup"."""
    message = response_message(state, token, message_id)
    kind = "delete_original" if message_id == "@original" else "delete_followup"
    state.by_token(token).responses.append({"type": kind, "data": {"message_id": message["id"]}})
    state.remove(message)


def _settle(message: JsonDict, ephemeral: int) -> None:
    """After an edit: no longer loading, and as ephemeral as before (Discord can't change it)."""
    flags = int(message.get("flags") or 0) & ~(LOADING | EPHEMERAL)
    message["flags"] = flags | ephemeral
