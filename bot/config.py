"""The operator's settings, read from the environment and `.env`, validated once at start.

Only the composition root (`bot.app`) and the entry point read this module.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.core.domain import ModelPrice
from bot.core.errors import ConfigError
from bot.llm.guard import parse_allowed_hosts

SUPPORTED_DATABASE_SCHEMES = ("sqlite+aiosqlite", "postgresql+asyncpg")


class Settings(BaseSettings):
    """Every variable is documented in `.env.example`; names are part of our public contract."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str = "sqlite+aiosqlite:///data/parlor.db"
    default_base_url: str | None = None
    default_model: str | None = None
    default_api_key: SecretStr | None = None
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    allow_private_endpoints: bool = False
    allowed_endpoint_hosts: Annotated[frozenset[tuple[str, int]], NoDecode] = frozenset()
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"
    discord_token: SecretStr | None = None
    discord_api_url: str | None = None
    discord_gateway_url: str | None = None
    discord_shard_count: int | None = Field(default=None, ge=1)
    discord_shard_ids: Annotated[tuple[int, ...], NoDecode] = ()
    discord_operator_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    discord_allow_dms: bool = True
    discord_allowed_servers: Annotated[frozenset[int], NoDecode] = frozenset()
    discord_blocked_servers: Annotated[frozenset[int], NoDecode] = frozenset()
    discord_allowed_users: Annotated[frozenset[int], NoDecode] = frozenset()
    discord_blocked_users: Annotated[frozenset[int], NoDecode] = frozenset()
    telegram_token: SecretStr | None = None
    telegram_api_url: str | None = None
    telegram_operator_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    telegram_allow_private: bool = True
    telegram_allowed_chats: Annotated[frozenset[int], NoDecode] = frozenset()
    telegram_blocked_chats: Annotated[frozenset[int], NoDecode] = frozenset()
    telegram_allowed_users: Annotated[frozenset[int], NoDecode] = frozenset()
    telegram_blocked_users: Annotated[frozenset[int], NoDecode] = frozenset()
    access_notice_seconds: float = Field(default=600.0, ge=0, le=86_400)

    llm_connect_timeout_seconds: float = Field(default=10.0, gt=0)
    llm_first_token_timeout_seconds: float = Field(default=120.0, gt=0)
    llm_idle_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_total_timeout_seconds: float = Field(default=600.0, gt=0)
    channel_queue_size: int = Field(default=3, ge=1, le=100)
    history_messages: int = Field(default=1000, ge=0, le=100_000)
    context_size: int = Field(default=8192, ge=256, le=10_000_000)
    reply_tokens: int = Field(default=512, ge=16, le=1_000_000)
    shutdown_grace_seconds: float = Field(default=8.0, gt=0, le=600)
    http_port: int | None = Field(default=None, ge=1, le=65535)
    http_host: str = "127.0.0.1"
    model_prices: Annotated[dict[str, ModelPrice], NoDecode] = Field(default_factory=dict)
    quota_user_messages_per_minute: int = Field(default=0, ge=0, le=2_000_000_000)
    quota_server_messages_per_minute: int = Field(default=0, ge=0, le=2_000_000_000)
    quota_user_tokens_per_day: int = Field(default=0, ge=0, le=2_000_000_000)
    quota_user_tokens_per_month: int = Field(default=0, ge=0, le=2_000_000_000)
    quota_server_tokens_per_day: int = Field(default=0, ge=0, le=2_000_000_000)
    quota_server_tokens_per_month: int = Field(default=0, ge=0, le=2_000_000_000)
    retention_days: int = Field(default=0, ge=0, le=36_500)  # 0: keep everything
    retention_batch_rows: int = Field(default=500, ge=1, le=100_000)
    retention_interval_seconds: float = Field(default=3600.0, ge=1, le=604_800)
    lease_seconds: float = Field(default=30.0, ge=0.5, le=3600)
    lease_renew_seconds: float = Field(default=10.0, ge=0.1, le=1200)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        scheme = value.split("://", 1)[0]
        if "://" not in value or scheme not in SUPPORTED_DATABASE_SCHEMES:
            allowed = " or ".join(f"{s}://…" for s in SUPPORTED_DATABASE_SCHEMES)
            raise ValueError(f"must start with {allowed}")
        try:
            make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("can't be read as a database URL (check the host and port)") from None
        return value

    @field_validator("default_base_url", "telegram_api_url", "discord_api_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        try:
            _ = parts.port  # raises for a port that is not a number
        except ValueError:
            raise ValueError("has a port that is not a number") from None
        return value.strip().rstrip("/")

    @field_validator("http_host")
    @classmethod
    def _listen_address(cls, value: str) -> str:
        host = value.strip().removeprefix("[").removesuffix("]")
        if not host or any(char.isspace() or char in "/?#@" for char in host):
            raise ValueError("must be an address to listen on, e.g. 127.0.0.1 or 0.0.0.0")
        return host

    @field_validator("encryption_keys", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator(
        "telegram_operator_ids",
        "discord_operator_ids",
        "discord_allowed_users",
        "discord_blocked_users",
        "telegram_allowed_users",
        "telegram_blocked_users",
        "discord_allowed_servers",
        "discord_blocked_servers",
        "telegram_allowed_chats",
        "telegram_blocked_chats",
        mode="before",
    )
    @classmethod
    def _ids(cls, value: object, info: ValidationInfo) -> object:
        """User, server or Telegram chat ids (groups are negative: -100…)."""
        if isinstance(value, str):
            try:
                return frozenset(_numbers(value))
            except ValueError:
                kind = "user ids" if (info.field_name or "").endswith(("_ids", "_users")) else "ids"
                raise ValueError(f"must be {kind} (numbers), separated by commas") from None
        return value

    @field_validator("discord_shard_ids", mode="before")
    @classmethod
    def _shard_ids(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return tuple(sorted(set(_numbers(value))))
            except ValueError:
                raise ValueError("must be shard numbers, separated by commas") from None
        return value

    @field_validator("discord_gateway_url")
    @classmethod
    def _websocket_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("ws", "wss") or not parts.hostname:
            raise ValueError("must be a ws:// or wss:// URL with a host")
        return value.strip()

    @model_validator(mode="after")
    def _shards_within_count(self) -> Settings:
        """Shard ids only mean something against a count; each must be below it."""
        if self.discord_shard_ids and self.discord_shard_count is None:
            raise ValueError("DISCORD_SHARD_IDS needs DISCORD_SHARD_COUNT")
        count = self.discord_shard_count or 1
        if any(shard >= count for shard in self.discord_shard_ids):
            raise ValueError(f"DISCORD_SHARD_IDS must be below DISCORD_SHARD_COUNT ({count})")
        return self

    @model_validator(mode="after")
    def _lease_renewed_in_time(self) -> Settings:
        """A lease renewed less often than it lasts would run out under a live process."""
        if self.lease_renew_seconds >= self.lease_seconds:
            raise ValueError(
                f"LEASE_RENEW_SECONDS ({self.lease_renew_seconds:g}) must be below "
                f"LEASE_SECONDS ({self.lease_seconds:g}); a third of it is usual"
            )
        return self

    @field_validator("allowed_endpoint_hosts", mode="before")
    @classmethod
    def _host_port_list(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return parse_allowed_hosts(value)
            except ValueError as exc:
                raise ValueError(str(exc).removeprefix("ALLOWED_ENDPOINT_HOSTS: ")) from None
        return value

    @field_validator("model_prices", mode="before")
    @classmethod
    def _model_prices(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return parse_model_prices(value)
            except ValueError:
                raise ValueError(
                    "must be model=prompt/completion USD per million tokens, separated by "
                    "commas, e.g. gpt-4o-mini=0.15/0.60,deepseek-chat=0.27/1.10"
                ) from None
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _log_format(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("log_level")
    @classmethod
    def _log_level(cls, value: str) -> str:
        name = value.strip().upper()
        if name not in logging.getLevelNamesMapping():
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return name


def load_settings() -> Settings:
    """Read the settings, or raise ConfigError with one line naming the bad variable.

    Pydantic's own message can echo the offending value, which may be a secret,
    so only the variable name and the rule it broke are kept.
    """
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        reason = first["msg"].removeprefix("Value error, ")
        if not first["loc"]:  # a rule across variables names them itself
            raise ConfigError(f"Invalid settings: {reason}") from None
        variable = str(first["loc"][0]).upper()
        raise ConfigError(f"Invalid setting {variable}: {reason}") from None


def _numbers(value: str) -> list[int]:
    """Whole numbers separated by commas or spaces; ValueError for anything else."""
    return [int(part) for part in value.replace(",", " ").split()]


def parse_model_prices(value: str) -> dict[str, ModelPrice]:
    """`model=prompt/completion,…` in USD per million tokens; ValueError for anything else.

    A model id may itself hold `/` or `=` (`meta-llama/Llama-3-8B`): the price is what
    follows the last `=`. Keys are lower case, as /usage matches them ignoring case.
    """
    prices: dict[str, ModelPrice] = {}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        model, equals, price = entry.rpartition("=")
        prompt, slash, completion = price.partition("/")
        if not (model.strip() and equals and slash):
            raise ValueError(entry)
        rates = float(prompt), float(completion)
        if not all(math.isfinite(rate) and rate >= 0 for rate in rates):
            raise ValueError(entry)
        prices[model.strip().lower()] = ModelPrice(*rates)
    return prices
