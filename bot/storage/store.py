"""SqlStore: the `Store` port on SQLAlchemy; the only code that writes SQL.

Database errors become `StorageError` here; ORM rows never leave this package.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, func, literal, select, update

from bot.core.domain import (
    KEEP,
    ChannelChanges,
    ChannelKey,
    ChannelState,
    ChatId,
    EndpointOptions,
    MessageId,
    MessageStatus,
    NewUserMessage,
    Role,
    Secret,
    StoredMessage,
    TurnIds,
)
from bot.core.errors import SecretsUnavailable, StorageError
from bot.storage.chats import ChatArchiveStore
from bot.storage.replies import ReplyStore
from bot.storage.rows import (
    CHANNEL_CONNECTION_NAME,
    channel_is,
    channel_scope,
    from_endpoint_options,
    from_sampling_params,
    own_connection_is,
    to_channel_state,
    to_greeting_row,
    to_pending_reply_row,
    to_stored_message,
    to_user_row,
)
from bot.storage.secrets import NO_ENCRYPTION_KEYS, connection_binding
from bot.storage.tables import ChannelRow, ChatRow, ConnectionRow, MessageRow, utcnow
from bot.storage.transactions import lock_channel, lock_settings, translating
from bot.storage.user_messages import UserMessageStore
from bot.storage.versions import settle_cut_off

_log = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 2.0
"""How long a readiness probe waits for the database: well inside a probe's own timeout."""


class SqlStore(ReplyStore, UserMessageStore, ChatArchiveStore):
    """Channels, settings and history in SQLite or PostgreSQL.

    Reads run in DEFERRED transactions and never wait for a writer on SQLite;
    every write is one short transaction. Channel rows are locked before they
    change (FOR UPDATE on PostgreSQL; SQLite's BEGIN IMMEDIATE already holds the
    only write lock), so concurrent commands on one channel don't interleave.
    """

    async def load_channel(self, key: ChannelKey) -> ChannelState:
        """A thread's state has its own chat and its parent's settings, read afresh each
        time, so a change made in the channel shows in its threads at their next turn.

        A channel (and a thread's parent) seen for the first time is created; the parent
        is locked before the thread, the order any transaction taking both must follow.
        """
        with translating("load the channel"):
            found = await self._read_channel(key)
            if found is None:
                async with self.writing() as session:
                    await lock_settings(session, key)
                    if key.parent_id is not None:
                        await lock_channel(session, key)
                found = await self._read_channel(key)
        if found is None:
            raise StorageError(f"channel {key} vanished while it was being created")
        settings, connection, current_chat_id = found
        return to_channel_state(
            key,
            settings,
            connection,
            current_chat_id=current_chat_id,
            secret_box=self._secret_box,
        )

    async def history(
        self, chat_id: ChatId, *, limit: int, before: MessageId | None = None
    ) -> list[StoredMessage]:
        """Reads at most `limit` rows through the (chat_id, id) index, however long the chat."""
        if limit <= 0:
            return []
        newest_first = (
            select(MessageRow)
            .where(MessageRow.chat_id == chat_id)
            .order_by(MessageRow.id.desc())
            .limit(limit)
        )
        if before is not None:
            newest_first = newest_first.where(MessageRow.id < before)
        with translating("read the chat history"):
            async with self.reading() as session:
                rows = (await session.scalars(newest_first)).all()
        return [to_stored_message(row) for row in reversed(rows)]

    async def alternatives(self, chat_id: ChatId) -> dict[MessageId, list[StoredMessage]]:
        """Reads only the replies' swipe columns, in one pass over the chat's index."""
        replies = select(MessageRow.id, MessageRow.created_at, MessageRow.swipes).where(
            MessageRow.chat_id == chat_id, MessageRow.role == Role.ASSISTANT.value
        )
        with translating("read the replies' versions"):
            async with self.reading() as session:
                rows = (await session.execute(replies)).all()
        found: dict[MessageId, list[StoredMessage]] = {}
        for message_id, created_at, swipes in rows:
            if isinstance(swipes, list) and len(swipes) > 1:
                found[MessageId(message_id)] = [
                    _version(MessageId(message_id), created_at, swipe, index, len(swipes))
                    for index, swipe in enumerate(swipes)
                ]
        return found

    async def save_token_counts(self, tokenizer: str, counts: Mapping[MessageId, int]) -> None:
        """One executemany UPDATE by id; a vanished message is skipped.

        Run on the session's connection: the ORM's bulk update by primary key would
        raise when a message it was given has gone.
        """
        if not counts:
            return
        cache = (
            update(MessageRow)
            .where(MessageRow.id == bindparam("message_id"))
            .values(token_count=bindparam("count"), token_counter=tokenizer)
        )
        rows = [{"message_id": key, "count": count} for key, count in counts.items()]
        with translating("cache token counts"):
            async with self.writing() as session:
                connection = await session.connection()
                await connection.execute(cache, rows)

    async def begin_turn(self, chat_id: ChatId, message: NewUserMessage) -> TurnIds:
        """The user's message and a pending reply, committed together.

        Each row is flushed on its own so the reply's id is the larger one:
        history is ordered by id.
        """
        with translating("store the message"):
            async with self.writing() as session:
                user = to_user_row(chat_id, message)
                session.add(user)
                await session.flush()
                reply = to_pending_reply_row(chat_id, owner=self._owner)
                session.add(reply)
                await session.flush()
                return TurnIds(MessageId(user.id), MessageId(reply.id))

    async def save_connection(
        self,
        key: ChannelKey,
        *,
        base_url: str,
        api_key: Secret | None,
    ) -> None:
        """Upsert the channel's own connection (scope = the channel, name "channel"); a
        thread's goes to its parent.

        A new key is encrypted before any SQL runs, so a missing ENCRYPTION_KEYS
        changes nothing. Without a new key, the old one survives only if the base
        URL is unchanged: a key is never sent to a host it was not entered for.
        """
        scope, name = channel_scope(key), CHANNEL_CONNECTION_NAME
        encrypted: bytes | None = None
        if api_key is not None:
            if self._secret_box is None:
                raise SecretsUnavailable(NO_ENCRYPTION_KEYS)
            encrypted = self._secret_box.encrypt(api_key, binding=connection_binding(scope, name))
        with translating("save the connection"):
            async with self.writing() as session:
                channel = await lock_settings(session, key)
                row = await session.scalar(select(ConnectionRow).where(own_connection_is(key)))
                if row is None:
                    row = ConnectionRow(scope=scope, name=name, base_url=base_url)
                    session.add(row)
                elif row.base_url != base_url:
                    # Options may carry credentials too (an api-key header) and learned
                    # quirks belong to the old host.
                    row.params = {}
                    if api_key is None:
                        where = _move_words(row.base_url, base_url)
                        _log.info("connection of %s moved to %s; its key is cleared", key, where)
                        row.api_key_encrypted = None
                        row.key_hint = None
                row.base_url = base_url
                if api_key is not None:
                    row.api_key_encrypted = encrypted
                    row.key_hint = api_key.masked()
                await session.flush()
                channel.connection_id = row.id

    async def clear_connection(self, key: ChannelKey) -> None:
        """Detach and delete the channel's own connection, key included.

        Needs no decryption, so it also repairs a channel whose stored key can
        no longer be read.
        """
        with translating("clear the connection"):
            async with self.writing() as session:
                channel = await lock_settings(session, key)
                channel.connection_id = None
                await session.flush()
                forget = (
                    delete(ConnectionRow)
                    .where(own_connection_is(key))
                    .execution_options(synchronize_session=False)
                )
                await session.execute(forget)

    async def update_channel(self, key: ChannelKey, changes: ChannelChanges) -> None:
        """Write the settings a command changed; fields left at KEEP are not touched."""
        with translating("save the channel's settings"):
            async with self.writing() as session:
                channel = await lock_settings(session, key)
                if changes.model is not KEEP:
                    channel.model = changes.model
                if changes.system_prompt is not KEEP:
                    channel.system_prompt = changes.system_prompt
                if changes.params is not KEEP:
                    channel.params = from_sampling_params(changes.params)
                if changes.api_type is not KEEP:
                    channel.api_type = changes.api_type.value
                if changes.instruct_template is not KEEP:
                    channel.instruct_template = changes.instruct_template
                if changes.reasoning_display is not KEEP:
                    channel.reasoning_display = changes.reasoning_display.value
                if changes.postprocess_mode is not KEEP:
                    channel.postprocess_mode = changes.postprocess_mode
                if changes.postprocess_placeholder is not KEEP:
                    channel.postprocess_placeholder = changes.postprocess_placeholder
                if changes.character_id is not KEEP:
                    channel.character_id = changes.character_id
                if changes.answer_all is not KEEP:
                    channel.answer_all = changes.answer_all

    async def set_connection_options(self, key: ChannelKey, options: EndpointOptions) -> None:
        """Store options on the connection the channel uses (its own or a profile)."""
        with translating("save the connection options"):
            async with self.writing() as session:
                channel = await lock_settings(session, key)
                if channel.connection_id is None:
                    raise StorageError(
                        "this channel uses the operator's endpoint, whose options are set "
                        "by the operator"
                    )
                row = await session.get(ConnectionRow, channel.connection_id)
                if row is not None:
                    row.params = from_endpoint_options(options)

    async def reset_chat(
        self, key: ChannelKey, *, greetings: Sequence[str] = (), chosen: int = 0
    ) -> ChatId:
        if greetings and not 0 <= chosen < len(greetings):
            raise StorageError(f"greeting {chosen} of {len(greetings)} does not exist")
        with translating("start a new chat"):
            async with self.writing() as session:
                channel = await lock_channel(session, key)
                if channel.current_chat_id is not None:
                    archive = (
                        update(ChatRow)
                        .where(ChatRow.id == channel.current_chat_id)
                        .values(archived_at=utcnow())
                        .execution_options(synchronize_session=False)
                    )
                    await session.execute(archive)
                chat = ChatRow(channel_id=channel.id)
                session.add(chat)
                await session.flush()
                channel.current_chat_id = chat.id
                if greetings:
                    session.add(to_greeting_row(ChatId(chat.id), greetings, chosen))
                return ChatId(chat.id)

    async def settle_interrupted(self) -> int:
        """Settle every pending reply, whoever writes it: only for a database no other
        process uses (a running process settles through its lease, storage/leases.py).

        Each is settled as `settle_cut_off` says: the text it had shown kept, marked
        interrupted.
        """
        pending = (
            select(MessageRow)
            .where(MessageRow.status == MessageStatus.PENDING.value)
            .with_for_update()
        )
        with translating("settle interrupted replies"):
            async with self.writing() as session:
                rows = (await session.scalars(pending)).all()
                for row in rows:
                    settle_cut_off(row)
        if rows:
            _log.info("settled %d reply(ies) left pending by a previous run", len(rows))
        return len(rows)

    async def ping(self, *, timeout_seconds: float = PING_TIMEOUT_SECONDS) -> bool:
        """Whether the database answers one `SELECT 1` within `timeout_seconds`: for
        /readyz, so it never raises (but for cancellation); why it failed goes to DEBUG."""
        try:
            async with asyncio.timeout(timeout_seconds):
                with translating("answer a ping"):
                    async with self.reading() as session:
                        await session.scalar(select(literal(1)))
        except (StorageError, TimeoutError) as exc:
            _log.debug("the database did not answer a ping: %s", type(exc).__name__)
            return False
        return True

    async def count_encrypted_keys(self) -> int:
        """How many stored API keys need ENCRYPTION_KEYS: start-up refuses to run without them."""
        stored = (
            select(func.count())
            .select_from(ConnectionRow)
            .where(ConnectionRow.api_key_encrypted.is_not(None))
        )
        with translating("count stored API keys"):
            async with self.reading() as session:
                return (await session.scalar(stored)) or 0

    async def _read_channel(
        self, key: ChannelKey
    ) -> tuple[ChannelRow, ConnectionRow | None, int | None] | None:
        """The settings row and its connection, and `key`'s own current chat; None when
        either row does not exist yet."""
        settings = key.settings_key
        with_connection = (
            select(ChannelRow, ConnectionRow)
            .outerjoin(ConnectionRow, ChannelRow.connection_id == ConnectionRow.id)
            .where(channel_is(settings))
        )
        async with self.reading() as session:
            found = (await session.execute(with_connection)).one_or_none()
            if found is None:
                return None
            channel, connection = found
            if key.parent_id is None:
                return channel, connection, channel.current_chat_id
            own = select(ChannelRow.current_chat_id).where(channel_is(key))
            chat = (await session.execute(own)).one_or_none()
        if chat is None:
            return None
        return channel, connection, chat.current_chat_id


def _version(
    message_id: MessageId, created_at: datetime, swipe: object, index: int, count: int
) -> StoredMessage:
    """One kept version of a reply; malformed JSON reads as empty text, as `_mirror` reads
    it, and an unknown status as an error, so that it is never taken for something said."""
    fields: Mapping[str, object] = swipe if isinstance(swipe, dict) else {}
    content, reasoning = fields.get("content"), fields.get("reasoning")
    status = fields.get("status")
    known = {member.value for member in MessageStatus}
    return StoredMessage(
        id=message_id,
        role=Role.ASSISTANT,
        content=content if isinstance(content, str) else "",
        status=MessageStatus(status)
        if isinstance(status, str) and status in known
        else MessageStatus.ERROR,
        reasoning=reasoning if isinstance(reasoning, str) else "",
        created_at=created_at,
        swipe_index=index,
        swipe_count=count,
    )


def _move_words(old_url: str, new_url: str) -> str:
    """How a connection moved, for the log: to another host (or port), or only another path."""
    same = urlsplit(old_url).netloc.lower() == urlsplit(new_url).netloc.lower()
    return "another path on the same host" if same else "a new host"
