"""Translation between table rows and domain dataclasses, and the predicates that find rows.

Pure functions: no session, no IO. Rows come in, frozen domain values go out, and back.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_

from bot.core.domain import (
    ApiType,
    ChannelKey,
    ChannelState,
    ChatId,
    Connection,
    EndpointOptions,
    MessageId,
    MessageStatus,
    NewUserMessage,
    ReasoningDisplay,
    Role,
    SamplingParams,
    StoredMessage,
)
from bot.core.errors import StorageError
from bot.storage.secrets import SecretBox, connection_binding
from bot.storage.tables import ChannelRow, ConnectionRow, MessageRow

_E = TypeVar("_E", bound=enum.Enum)

CHANNEL_CONNECTION_NAME = "channel"
"""The name of the connection a channel sets for itself with the connect command."""


def channel_scope(key: ChannelKey) -> str:
    """The scope of a channel's own connection: a thread's is its parent's, whose it uses."""
    return str(key.settings_key)


def channel_is(key: ChannelKey) -> ColumnElement[bool]:
    return and_(ChannelRow.platform == key.platform, ChannelRow.external_id == key.external_id)


def own_connection_is(key: ChannelKey) -> ColumnElement[bool]:
    """The connection a channel set for itself, as opposed to a named profile."""
    return and_(
        ConnectionRow.scope == channel_scope(key),
        ConnectionRow.name == CHANNEL_CONNECTION_NAME,
    )


def to_channel_state(
    key: ChannelKey,
    settings: ChannelRow,
    connection: ConnectionRow | None,
    *,
    current_chat_id: int | None,
    secret_box: SecretBox | None,
) -> ChannelState:
    """The state of `key`: its own chat, and the settings of the row that holds them
    (a thread's parent, else the channel's own row)."""
    if current_chat_id is None:
        raise StorageError(f"channel {key} has no current chat; the database is inconsistent")
    return ChannelState(
        key=key,
        chat_id=ChatId(current_chat_id),
        connection=(
            None if connection is None else to_connection(connection, secret_box=secret_box)
        ),
        model=settings.model,
        system_prompt=settings.system_prompt,
        params=to_sampling_params(settings.params),
        api_type=_member(ApiType, settings.api_type, ApiType.CHAT),
        instruct_template=settings.instruct_template,
        reasoning_display=_member(
            ReasoningDisplay, settings.reasoning_display, ReasoningDisplay.HIDE
        ),
        postprocess_mode=settings.postprocess_mode,
        postprocess_placeholder=settings.postprocess_placeholder,
        character_id=settings.character_id,
        answer_all=settings.answer_all,
    )


def to_connection(row: ConnectionRow, *, secret_box: SecretBox | None) -> Connection:
    """A chat-set connection, never trusted; its key is decrypted only here.

    A stored key that cannot be read fails closed (`StorageError`): sending the
    request without it would hide the problem, and the operator must fix the keys.
    """
    api_key = None
    if row.api_key_encrypted is not None:
        if secret_box is None:
            raise StorageError(
                "a stored API key can't be read: the operator has not set ENCRYPTION_KEYS"
            )
        api_key = secret_box.decrypt(
            row.api_key_encrypted, binding=connection_binding(row.scope, row.name)
        )
    name = None if row.name == CHANNEL_CONNECTION_NAME else row.name
    return Connection(
        base_url=row.base_url,
        model=row.model,
        api_key=api_key,
        trusted=False,
        options=to_endpoint_options(row.params),
        name=name,
    )


def to_endpoint_options(data: Mapping[str, Any] | None) -> EndpointOptions:
    """Options of the right shape; anything malformed in the JSON is dropped, not fatal."""
    if not data:
        return EndpointOptions()
    body = data.get("extra_body")
    headers = data.get("extra_headers")
    exclude = data.get("exclude_keys")
    field = data.get("max_tokens_field")
    text_only = data.get("text_only_models")
    return EndpointOptions(
        extra_body=body if isinstance(body, dict) else {},
        extra_headers=(
            {str(k): str(v) for k, v in headers.items()} if isinstance(headers, dict) else {}
        ),
        exclude_keys=tuple(str(k) for k in exclude) if isinstance(exclude, list) else (),
        bypass_models_check=data.get("bypass_models_check") is True,
        max_tokens_field=field if isinstance(field, str) else None,
        text_only_models=(
            tuple(m for m in text_only if isinstance(m, str)) if isinstance(text_only, list) else ()
        ),
    )


def from_endpoint_options(options: EndpointOptions) -> dict[str, Any]:
    return {
        "extra_body": dict(options.extra_body),
        "extra_headers": dict(options.extra_headers),
        "exclude_keys": list(options.exclude_keys),
        "bypass_models_check": options.bypass_models_check,
        "max_tokens_field": options.max_tokens_field,
        "text_only_models": list(options.text_only_models),
    }


def to_sampling_params(data: Mapping[str, Any] | None) -> SamplingParams:
    """Known settings of the right type; anything else in the JSON is ignored."""
    if not data:
        return SamplingParams()
    stop = data.get("stop")
    return SamplingParams(
        temperature=_number(data.get("temperature")),
        top_p=_number(data.get("top_p")),
        top_k=_integer(data.get("top_k")),
        min_p=_number(data.get("min_p")),
        presence_penalty=_number(data.get("presence_penalty")),
        frequency_penalty=_number(data.get("frequency_penalty")),
        repetition_penalty=_number(data.get("repetition_penalty")),
        seed=_integer(data.get("seed")),
        stop=tuple(s for s in stop if isinstance(s, str)) if isinstance(stop, list) else (),
        max_tokens=_integer(data.get("max_tokens")),
        context_size=_integer(data.get("context_size")),
    )


def from_sampling_params(params: SamplingParams) -> dict[str, Any]:
    stored: dict[str, Any] = dict(params.as_mapping())
    if params.context_size is not None:
        stored["context_size"] = params.context_size
    return stored


def to_stored_message(row: MessageRow) -> StoredMessage:
    try:
        role = Role(row.role)
        status = MessageStatus(row.status)
    except ValueError as exc:
        raise StorageError(f"message {row.id} has an unknown role or status") from exc
    return StoredMessage(
        id=MessageId(row.id),
        role=role,
        content=row.content,
        status=status,
        author_name=row.author_name,
        reasoning=row.reasoning,
        created_at=row.created_at,
        author_id=row.author_id,
        images=tuple(url for url in row.images or () if isinstance(url, str)),
        token_count=row.token_count,
        token_counter=row.token_counter,
        swipe_index=row.swipe_index,
        swipe_count=len(row.swipes) if row.swipes else 1,
    )


def to_user_row(chat_id: ChatId, message: NewUserMessage) -> MessageRow:
    platform_ids = [message.platform_message_id] if message.platform_message_id else None
    return MessageRow(
        chat_id=chat_id,
        role=Role.USER.value,
        author_id=message.author_id,
        author_name=message.author_name,
        content=message.content,
        status=MessageStatus.COMPLETE.value,
        platform_message_ids=platform_ids,
        images=list(message.images) or None,
    )


def to_pending_reply_row(chat_id: ChatId, *, owner: str | None = None) -> MessageRow:
    """`owner`: the id of the process that will write it (its lease), if it has one."""
    return MessageRow(
        chat_id=chat_id,
        role=Role.ASSISTANT.value,
        content="",
        status=MessageStatus.PENDING.value,
        owner_process=owner,
    )


def _member(kind: type[_E], value: str, fallback: _E) -> _E:
    """A stored enum value; one written by a newer version falls back instead of failing."""
    try:
        return kind(value)
    except ValueError:
        return fallback


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _integer(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def to_greeting_row(chat_id: ChatId, greetings: Sequence[str], chosen: int) -> MessageRow:
    """The character's opening message; its other greetings are its alternatives."""
    swipes = [
        {"content": text, "reasoning": "", "status": MessageStatus.COMPLETE.value}
        for text in greetings
    ]
    return MessageRow(
        chat_id=chat_id,
        role=Role.ASSISTANT.value,
        content=greetings[chosen],
        status=MessageStatus.COMPLETE.value,
        swipes=swipes if len(swipes) > 1 else None,
        swipe_index=chosen if len(swipes) > 1 else 0,
    )
