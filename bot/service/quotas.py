"""The quota rules: which limits apply to a turn, and whether it may go to the endpoint.

The operator's limits apply everywhere; a server's admins may add their own, lower ones
(`/limits`). A person's limit counts their turns on the whole platform; their server's
own limit for each person counts their turns in that server only. Token limits count
only the operator's endpoint (usage rows marked trusted) and apply only to turns that go
to it: a channel on its own endpoint is bound by the per-minute rates alone.

Counting lives in the database behind the QuotaBook port, so it holds across restarts
and processes. Knows the ports only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.core.errors import BotError, QuotaReached
from bot.core.ports import QuotaBook
from bot.core.quotas import (
    NO_LIMITS,
    Admission,
    Limit,
    Limits,
    QuotaTurn,
    RateCheck,
    Scope,
    Spent,
)
from bot.core.windows import Windows

_log = logging.getLogger(__name__)

RATE_WINDOW = timedelta(seconds=60)
"""Per-minute rates count the admissions of the last 60 s, a window that slides."""
KEEP_ADMISSIONS = timedelta(minutes=5)
"""Admissions older than this are deleted: no window reaches back that far."""
PRUNE_EVERY = timedelta(minutes=1)
PRUNE_BATCH = 500
PRUNE_BATCHES = 20
"""At most this many batches each time, so a backlog costs a few small deletes a minute."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One limit as it applies to a turn: how much, counted over whose turns, set by whom."""

    limit: Limit
    allowed: int
    scope: Scope
    by_admins: bool = False

    @property
    def in_server(self) -> bool:
        """A person's limit that is their server's own, counted in that server only."""
        return self.limit.per_user and self.scope.server is not None


@dataclass(frozen=True, slots=True)
class Standing:
    """A rule with what is used of it now, and when that count next goes down or resets."""

    rule: Rule
    used: int
    resets_at: datetime

    @property
    def left(self) -> int:
        return max(0, self.rule.allowed - self.used)


def place_word(platform: str) -> str:
    """What a platform calls the shared place a turn happens in."""
    return "group" if platform == "telegram" else "server"


class Quotas:
    """The QuotaGate the turns ask, and what /limits shows and changes."""

    def __init__(
        self,
        *,
        book: QuotaBook,
        defaults: Limits = NO_LIMITS,
        wall_clock: Callable[[], datetime],
    ) -> None:
        """`defaults` are the operator's limits (QUOTA_* settings)."""
        self._book = book
        self.defaults = defaults
        self._wall_clock = wall_clock
        self._next_prune: datetime | None = None

    async def admit(self, turn: QuotaTurn) -> None:
        """Raise QuotaReached when a limit is used up; otherwise record the admission (only
        when a per-minute rate applies) and return. Token limits are read first: a turn
        refused for tokens takes no place in a per-minute window."""
        now = self._now()
        rules = await self.rules(turn.platform, turn.user_id, turn.server)
        if turn.operator_endpoint:
            await self._check_tokens(turn.platform, rules, now)
        rates = [rule for rule in rules if not rule.limit.counts_tokens]
        if not rates:
            return
        checks = [RateCheck(rule.scope, rule.allowed, now - RATE_WINDOW) for rule in rates]
        admission = Admission(now, turn.platform, turn.user_id, turn.server, turn.channel)
        refusal = await self._book.admit(admission, checks)
        if refusal is not None:
            frees_at = refusal.oldest_counted + RATE_WINDOW
            raise self._reached(rates[refusal.check], turn.platform, frees_at, now)
        await self._prune(now)

    async def rules(self, platform: str, user_id: str, server: str | None) -> list[Rule]:
        """Every limit on `user_id`'s turns here: the operator's, and in a server its own.

        A server's own limit on the whole server replaces the operator's when lower; its
        limit for each person is a rule of its own, counted in that server.
        """
        overrides = await self._book.overrides(platform, server) if server else NO_LIMITS
        mine, theirs = Scope(user_id=user_id), Scope(server=server)
        rules: list[Rule] = []
        for limit in Limit:
            default, own = self.defaults.get(limit), overrides.get(limit)
            if limit.per_user:
                if default is not None:
                    rules.append(Rule(limit, default, mine))
                if own is not None:
                    rules.append(Rule(limit, own, Scope(user_id, server), by_admins=True))
            elif server is not None:
                lowest = min((v for v in (default, own) if v is not None), default=None)
                if lowest is not None:
                    rules.append(Rule(limit, lowest, theirs, by_admins=lowest != default))
        return rules

    async def standings(
        self, platform: str, user_id: str, server: str | None, *, operator_endpoint: bool
    ) -> list[Standing]:
        """What each rule here has used and when it resets, for /limits. Token rules are
        left out for a channel on its own endpoint: they do not apply there."""
        now = self._now()
        windows = Windows.around(now)
        standings: list[Standing] = []
        spent: dict[Scope, Spent] = {}
        for rule in await self.rules(platform, user_id, server):
            if rule.limit.counts_tokens:
                if not operator_endpoint:
                    continue
                if rule.scope not in spent:
                    spent[rule.scope] = await self._spent(platform, rule.scope, windows)
                used, resets = _tokens_of(rule.limit, spent[rule.scope], windows)
            else:
                used = await self._book.admissions(platform, rule.scope, since=now - RATE_WINDOW)
                resets = now + RATE_WINDOW
            standings.append(Standing(rule, used, resets))
        return standings

    async def _check_tokens(self, platform: str, rules: list[Rule], now: datetime) -> None:
        """One sum per scope (a person, a server, a person in a server), day and month at
        once; the first rule used up is the one refused."""
        windows = Windows.around(now)
        spent: dict[Scope, Spent] = {}
        for rule in rules:
            if not rule.limit.counts_tokens:
                continue
            if rule.scope not in spent:
                spent[rule.scope] = await self._spent(platform, rule.scope, windows)
            used, resets = _tokens_of(rule.limit, spent[rule.scope], windows)
            if used >= rule.allowed:
                raise self._reached(rule, platform, resets, now)

    async def _spent(self, platform: str, scope: Scope, windows: Windows) -> Spent:
        return await self._book.spent(
            platform,
            scope,
            day=(windows.day_start, windows.day_end),
            month_start=windows.month_start,
        )

    def _reached(self, rule: Rule, platform: str, resets: datetime, now: datetime) -> QuotaReached:
        return QuotaReached(
            limit=rule.limit.value,
            allowed=rule.allowed,
            resets_at=resets,
            wait_seconds=max(0.0, (resets - now).total_seconds()),
            place=place_word(platform),
            by_admins=rule.by_admins,
            in_server=rule.in_server,
        )

    async def _prune(self, now: datetime) -> None:
        """Now and then (once a minute per process), delete admissions no window reaches,
        a batch at a time. A failure is logged and tried again next time: pruning never
        fails a turn."""
        if self._next_prune is not None and now < self._next_prune:
            return
        self._next_prune = now + PRUNE_EVERY
        try:
            for _ in range(PRUNE_BATCHES):
                if await self._book.prune(before=now - KEEP_ADMISSIONS, batch=PRUNE_BATCH) < (
                    PRUNE_BATCH
                ):
                    break
        except BotError as exc:
            _log.warning("could not delete old quota admissions: %s", type(exc).__name__)

    def _now(self) -> datetime:
        return self._wall_clock().astimezone(UTC)


def _tokens_of(limit: Limit, spent: Spent, windows: Windows) -> tuple[int, datetime]:
    if limit.period == "day":
        return spent.today, windows.day_end
    return spent.this_month, windows.month_end
