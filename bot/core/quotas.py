"""Quota values: the six limits, a set of them, and what the quota counters are asked.

Plain values shared by the quota rules (bot/service/quotas.py), their storage and /limits.
The rules themselves are not here.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields, replace
from datetime import datetime


class Limit(enum.StrEnum):
    """One limit, named as its setting (upper case) and its /limits option (as is)."""

    USER_MESSAGES_PER_MINUTE = "user_messages_per_minute"
    SERVER_MESSAGES_PER_MINUTE = "server_messages_per_minute"
    USER_TOKENS_PER_DAY = "user_tokens_per_day"
    USER_TOKENS_PER_MONTH = "user_tokens_per_month"
    SERVER_TOKENS_PER_DAY = "server_tokens_per_day"
    SERVER_TOKENS_PER_MONTH = "server_tokens_per_month"

    @property
    def per_user(self) -> bool:
        return self.value.startswith("user_")

    @property
    def counts_tokens(self) -> bool:
        return "_tokens_" in self.value

    @property
    def period(self) -> str:
        """minute, day or month."""
        return self.value.rsplit("_", 1)[1]

    @property
    def unit(self) -> str:
        """messages or tokens."""
        return "tokens" if self.counts_tokens else "messages"


@dataclass(frozen=True, slots=True)
class Limits:
    """Some limits; None is no limit. Field names are the `Limit` values."""

    user_messages_per_minute: int | None = None
    server_messages_per_minute: int | None = None
    user_tokens_per_day: int | None = None
    user_tokens_per_month: int | None = None
    server_tokens_per_day: int | None = None
    server_tokens_per_month: int | None = None

    def get(self, limit: Limit) -> int | None:
        value: int | None = getattr(self, limit.value)
        return value

    def with_values(self, values: dict[Limit, int | None]) -> Limits:
        return replace(self, **{limit.value: value for limit, value in values.items()})

    @property
    def any(self) -> bool:
        return any(getattr(self, field.name) is not None for field in fields(self))

    @classmethod
    def of(cls, values: dict[Limit, int]) -> Limits:
        """Limits from counts where 0 (or less) means no limit, as the settings say."""
        return cls().with_values({k: (v if v > 0 else None) for k, v in values.items()})


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Scope:
    """Whose turns a counter sums: one person's, one server's, or one person's in one server
    (the server's admins' own limit for each person). At least one of the two is set."""

    user_id: str | None = None
    server: str | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """One turn let through to the endpoint: what per-minute rates are counted from."""

    created_at: datetime
    platform: str
    user_id: str
    server: str | None
    channel: str


@dataclass(frozen=True, slots=True)
class RateCheck:
    """At most `allowed` admissions in `scope` after `since` (the sliding window's start)."""

    scope: Scope
    allowed: int
    since: datetime


@dataclass(frozen=True, slots=True)
class RateRefusal:
    """Which check (its index) was full, and the time of the admission whose expiry frees a
    place: the `allowed`-th most recent one in the window."""

    check: int
    oldest_counted: datetime


@dataclass(frozen=True, slots=True)
class Spent:
    """Tokens of the operator's endpoint in one scope: today and this month (UTC)."""

    today: int = 0
    this_month: int = 0


@dataclass(frozen=True, slots=True)
class QuotaTurn:
    """A turn asking to go to the endpoint: whose it is, where, and whether the operator's
    endpoint pays for it (only those turns count against token limits)."""

    platform: str
    user_id: str
    server: str | None
    channel: str
    operator_endpoint: bool
