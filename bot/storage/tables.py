"""The database schema as SQLAlchemy 2 typed models; alembic migrations are checked against it.

Rows only: these classes never leave `bot.storage`, and they know nothing of the domain.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.core.storable import storable_text

JsonObject = dict[str, Any]

# Stable constraint names, so that migrations can address them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    SQLite keeps no zone and hands back naive values; this type refuses naive
    input and gives UTC back, so comparisons never mix naive and aware times.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class _StorableStr(TypeDecorator[str]):
    """Text written through `storable_text`: PostgreSQL would refuse a NUL, no backend can
    encode a lone surrogate, and a turn must not be lost over either."""

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else storable_text(value)


class StorableText(_StorableStr):
    """Text of any length: messages, prompts, descriptions."""

    impl = Text
    cache_ok = True


class StorableString(_StorableStr):
    """A short string: names, ids, our own vocabularies."""

    impl = String
    cache_ok = True


class Base(DeclarativeBase):
    """Strings have a length only for our own small vocabularies (roles, statuses,
    modes); text from outside (names, models, ids, finish reasons) is unbounded, so
    PostgreSQL never rejects a turn over it."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created_at() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), default=utcnow)


def _updated_at() -> Mapped[datetime]:
    return mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class ConnectionRow(Base):
    """A named endpoint profile within a scope; a channel's own one is (str(key), "channel")."""

    __tablename__ = "connections"
    __table_args__ = (UniqueConstraint("scope", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(StorableString())
    name: Mapped[str] = mapped_column(StorableString())
    base_url: Mapped[str] = mapped_column(StorableText())
    api_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_hint: Mapped[str | None] = mapped_column(StorableString())  # the masked form, never the key
    model: Mapped[str | None] = mapped_column(
        StorableString()
    )  # a profile's model; a channel's own wins
    # EndpointOptions: extra body, headers, excluded keys, learned max-tokens field…
    params: Mapped[JsonObject] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class ChannelRow(Base):
    """A platform channel and its overrides; points at the chat that is going on now."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(StorableString(32))
    external_id: Mapped[str] = mapped_column(StorableString())
    connection_id: Mapped[int | None] = mapped_column(
        ForeignKey("connections.id", ondelete="SET NULL")
    )
    model: Mapped[str | None] = mapped_column(StorableString())
    system_prompt: Mapped[str | None] = mapped_column(StorableText())
    postprocess_mode: Mapped[str] = mapped_column(
        StorableString(20), default="none", server_default="none"
    )
    params: Mapped[JsonObject] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    api_type: Mapped[str] = mapped_column(StorableString(20), default="chat", server_default="chat")
    instruct_template: Mapped[str | None] = mapped_column(StorableString(64))
    reasoning_display: Mapped[str] = mapped_column(
        StorableString(20), default="hide", server_default="hide"
    )
    character_id: Mapped[int | None] = mapped_column(
        ForeignKey("characters.id", ondelete="SET NULL")
    )
    # The system text strict post-processing puts first; None: "[Start a new chat]".
    postprocess_placeholder: Mapped[str | None] = mapped_column(StorableText())
    # Answer every message in a group channel, not only mentions and replies.
    answer_all: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # channels ↔ chats is a cycle: this side is added after both tables exist.
    current_chat_id: Mapped[int | None] = mapped_column(
        ForeignKey("chats.id", ondelete="SET NULL", use_alter=True)
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class CharacterRow(Base):
    """A character card (normalised V2/V3 JSON, unknown fields kept) and its avatar image.

    `scope` is whose library it is in: a server's, or a chat's own (as for profiles).
    """

    __tablename__ = "characters"
    __table_args__ = (UniqueConstraint("scope", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(StorableString(), server_default="")
    name: Mapped[str] = mapped_column(StorableString())
    card: Mapped[JsonObject] = mapped_column(JSON)
    avatar: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class PersonaRow(Base):
    """Who a user is in the story: the name `{{user}}` becomes and a description."""

    __tablename__ = "personas"
    __table_args__ = (UniqueConstraint("platform", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(StorableString(32))
    user_id: Mapped[str] = mapped_column(StorableString())
    name: Mapped[str] = mapped_column(StorableString())
    description: Mapped[str] = mapped_column(StorableText(), default="", server_default="")
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class ChatRow(Base):
    """One conversation of a channel; `archived_at` is set when a reset starts a new one."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel_id: Mapped[int] = mapped_column(
        ForeignKey("channels.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str | None] = mapped_column(StorableString())
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = _created_at()


class MessageRow(Base):
    """One stored message; an assistant row is written pending and settled once."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_chat_id_id", "chat_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(StorableString(16))
    author_id: Mapped[str | None] = mapped_column(StorableString())
    author_name: Mapped[str | None] = mapped_column(StorableString())
    content: Mapped[str] = mapped_column(StorableText())
    reasoning: Mapped[str] = mapped_column(StorableText(), default="", server_default="")
    status: Mapped[str] = mapped_column(StorableString(16))
    finish_reason: Mapped[str | None] = mapped_column(StorableString())
    # What a pending reply has shown so far (a continuation: what it added), saved while it
    # streams so that a crash keeps it; emptied when the reply is settled.
    partial: Mapped[str | None] = mapped_column(StorableText())
    partial_reasoning: Mapped[str | None] = mapped_column(StorableText())
    token_count: Mapped[int | None] = mapped_column(Integer)
    token_counter: Mapped[str | None] = mapped_column(StorableString())  # which tokenizer counted
    # Kept alternatives of a reply ({content, reasoning, status, finish_reason}); `content`
    # mirrors the chosen one, so history reads need not open this.
    swipes: Mapped[list[JsonObject] | None] = mapped_column(JSON)
    swipe_index: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    images: Mapped[list[str] | None] = mapped_column(JSON)  # data: URLs sent with the message
    platform_message_ids: Mapped[list[str] | None] = mapped_column(JSON)
    # The process writing a pending reply (ProcessRow.id); None once settled. Indexed for the
    # sweep that settles the replies of a process whose lease ran out.
    owner_process: Mapped[str | None] = mapped_column(StorableString(32), index=True)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = _updated_at()


class ProcessRow(Base):
    """A running bot process and its lease (storage/leases.py): while `expires_at` is ahead,
    its pending replies are its own; once it has passed, any process settles them.

    `host` and `pid` are for people reading the table; the id alone identifies the process.
    """

    __tablename__ = "processes"

    id: Mapped[str] = mapped_column(StorableString(32), primary_key=True)
    host: Mapped[str] = mapped_column(StorableString())
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class UsageRow(Base):
    """One turn whose reply began at the endpoint: who, where, which model, what it cost.

    No text, no key and no URL: `endpoint_host` is the host (and an explicit port) only.
    `server_id` is None in DMs and the console.
    """

    __tablename__ = "usage"
    __table_args__ = (
        Index("ix_usage_platform_user_id_created_at", "platform", "user_id", "created_at"),
        Index("ix_usage_platform_server_id_created_at", "platform", "server_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    platform: Mapped[str] = mapped_column(StorableString(32))
    user_id: Mapped[str] = mapped_column(StorableString())
    server_id: Mapped[str | None] = mapped_column(StorableString())
    channel_id: Mapped[str] = mapped_column(StorableString())
    model: Mapped[str] = mapped_column(StorableString())
    endpoint_host: Mapped[str] = mapped_column(StorableString())
    trusted: Mapped[bool] = mapped_column(Boolean)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    prompt_estimated: Mapped[bool] = mapped_column(Boolean)
    completion_estimated: Mapped[bool] = mapped_column(Boolean)
    duration_seconds: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(StorableString(16))


class AccessRuleRow(Base):
    """One of a server's /access rules: the bot answers in this channel, or to this role."""

    __tablename__ = "access_rules"
    __table_args__ = (UniqueConstraint("platform", "server_id", "kind", "value"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(StorableString(32))
    server_id: Mapped[str] = mapped_column(StorableString())
    kind: Mapped[str] = mapped_column(StorableString(16))  # RuleKind
    value: Mapped[str] = mapped_column(StorableString())  # the channel's or role's id
    created_at: Mapped[datetime] = _created_at()


class AdmissionRow(Base):
    """One turn a quota let through to the endpoint, for per-minute rates across processes.

    Kept only minutes: the quota gate deletes old rows in small batches as it goes.
    """

    __tablename__ = "quota_admissions"
    __table_args__ = (
        Index(
            "ix_quota_admissions_platform_user_id_created_at", "platform", "user_id", "created_at"
        ),
        Index(
            "ix_quota_admissions_platform_server_id_created_at",
            "platform",
            "server_id",
            "created_at",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    platform: Mapped[str] = mapped_column(StorableString(32))
    user_id: Mapped[str] = mapped_column(StorableString())
    server_id: Mapped[str | None] = mapped_column(StorableString())
    channel_id: Mapped[str] = mapped_column(StorableString())


class QuotaOverrideRow(Base):
    """A server's own limits, set by its admins within the operator's; NULL is none."""

    __tablename__ = "quota_overrides"
    __table_args__ = (UniqueConstraint("platform", "server_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    platform: Mapped[str] = mapped_column(StorableString(32))
    server_id: Mapped[str] = mapped_column(StorableString())
    user_messages_per_minute: Mapped[int | None] = mapped_column(Integer)
    server_messages_per_minute: Mapped[int | None] = mapped_column(Integer)
    user_tokens_per_day: Mapped[int | None] = mapped_column(Integer)
    user_tokens_per_month: Mapped[int | None] = mapped_column(Integer)
    server_tokens_per_day: Mapped[int | None] = mapped_column(Integer)
    server_tokens_per_month: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime] = _updated_at()


class SharedStateRow(Base):
    """Short-lived state every process must see (key links, confirmation codes, which
    reply is latest): text by (kind, key) until `expires_at`; `owner` is whom it is about."""

    __tablename__ = "shared_state"
    __table_args__ = (
        UniqueConstraint("kind", "key"),
        Index("ix_shared_state_expires_at", "expires_at"),
        Index("ix_shared_state_owner", "owner"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(StorableString(32))
    key: Mapped[str] = mapped_column(StorableString())
    value: Mapped[str] = mapped_column(StorableText())
    owner: Mapped[str | None] = mapped_column(StorableString())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
