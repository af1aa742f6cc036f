"""The operator's settings, read from the environment and `.env`, validated once at start.

Only the composition root (`bot.app`) and the entry point read this module.
"""

from __future__ import annotations

import logging
import math
import re
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
    redis_url: str | None = None  # bot-wide write budgets shared by every process
    telegram_webhook_url: str | None = None  # unset: polling
    telegram_webhook_secret: SecretStr | None = None
    telegram_webhook_path: str | None = None  # unset: the URL's path
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

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError("must start with redis://, rediss:// or unix://")
        try:
            _ = parts.port  # raises for a port that is not a number
        except ValueError:
            raise ValueError("has a port that is not a number") from None
        return value.strip()

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

    @field_validator("telegram_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return webhook_url(value) if value is not None else None

    @field_validator("telegram_webhook_secret")
    @classmethod
    def _webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_HEADER_CHARS.fullmatch(value.get_secret_value()):
            raise ValueError(WEBHOOK_HEADER_RULE)
        return value

    @field_validator("telegram_webhook_path")
    @classmethod
    def _webhook_path(cls, value: str | None) -> str | None:
        return webhook_path(value) if value is not None else None

    @model_validator(mode="after")
    def _webhook_needs(self) -> Settings:
        """A webhook is received on the HTTP listener and must carry the secret."""
        if self.telegram_webhook_url is None or self.telegram_token is None:
            return self  # polling, or no Telegram here (a Discord process sharing .env)
        if self.telegram_webhook_secret is None:
            raise ValueError(
                f"TELEGRAM_WEBHOOK_URL needs TELEGRAM_WEBHOOK_SECRET ({WEBHOOK_HEADER_RULE})"
            )
        if self.http_port is None:
            raise ValueError(
                "TELEGRAM_WEBHOOK_URL needs HTTP_PORT: Telegram's updates are received on the "
                "HTTP listener (HTTP_HOST:HTTP_PORT), where your reverse proxy forwards them"
            )
        if self.telegram_webhook_path is None:
            self.telegram_webhook_path = webhook_path(
                urlsplit(self.telegram_webhook_url).path or "/"
            )
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


WEBHOOK_HEADER_CHARS = re.compile(r"[A-Za-z0-9_-]{1,256}")
WEBHOOK_HEADER_RULE = (
    "1 to 256 characters of A-Z, a-z, 0-9, _ and -, the same on every worker; "
    "e.g. the output of `openssl rand -hex 32`"
)
LISTENER_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def webhook_url(value: str) -> str:
    """The public address Telegram posts to: http(s) with a host and no fragment (Telegram
    itself takes only https on ports 443, 80, 88 and 8443, and says so at setWebhook)."""
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or parts.fragment:
        raise ValueError("must be the public https:// URL Telegram posts updates to")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError("has a port that is not a number") from None
    return value.strip()


def webhook_path(value: str) -> str:
    """The listener's path for updates: absolute, and not one the listener already serves."""
    path = value.strip()
    if not path.startswith("/") or any(char.isspace() or char in "?#" for char in path):
        raise ValueError("must be a path starting with /, e.g. /telegram")
    if path in LISTENER_PATHS:
        raise ValueError(f"must not be {path}: the listener serves that itself")
    return path


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
