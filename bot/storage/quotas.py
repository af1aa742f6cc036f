"""Quota counters on SQLite and PostgreSQL: admissions in a sliding window, tokens of the
operator's endpoint summed from `usage`, and each server's own limits.

Knows rows and SQL only; which limits apply and what a refusal says is bot/service/quotas.py's.
Everything lives in the database, so every process and every restart counts the same.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Select, case, delete, func, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.quotas import (
    Admission,
    Limit,
    Limits,
    RateCheck,
    RateRefusal,
    Scope,
    Spent,
)
from bot.storage.tables import AdmissionRow, QuotaOverrideRow, UsageRow
from bot.storage.transactions import Transactions, translating


class SqlQuotas(Transactions):
    """Implements the `QuotaBook` port."""

    async def admit(self, admission: Admission, checks: Sequence[RateCheck]) -> RateRefusal | None:
        """Each check reads at most its window's `allowed` newest rows through an index
        (platform, user_id | server_id, created_at). On SQLite the write transaction
        (BEGIN IMMEDIATE) already serialises processes; on PostgreSQL a transaction-scoped
        advisory lock per scope does, so the check and the insert are one step."""
        with translating("count admitted turns"):
            async with self.writing() as session:
                await _lock_scopes(session, admission.platform, [check.scope for check in checks])
                for index, check in enumerate(checks):
                    oldest = await session.scalar(_nth_newest(admission.platform, check))
                    if oldest is not None:
                        return RateRefusal(index, oldest)
                session.add(
                    AdmissionRow(
                        created_at=admission.created_at,
                        platform=admission.platform,
                        user_id=admission.user_id,
                        server_id=admission.server,
                        channel_id=admission.channel,
                    )
                )
        return None

    async def admissions(self, platform: str, scope: Scope, *, since: datetime) -> int:
        query = (
            select(func.count())
            .select_from(AdmissionRow)
            .where(
                AdmissionRow.platform == platform,
                AdmissionRow.created_at > since,
                *_admissions_in(scope),
            )
        )
        with translating("count admitted turns"):
            async with self.reading() as session:
                return int(await session.scalar(query) or 0)

    async def spent(
        self, platform: str, scope: Scope, *, day: tuple[datetime, datetime], month_start: datetime
    ) -> Spent:
        """Both sums in one query over the month's rows of the scope (an index leads to
        them); rows of a channel's own endpoint (trusted false) are not counted."""
        tokens = UsageRow.prompt_tokens + UsageRow.completion_tokens
        today = case((UsageRow.created_at >= day[0], tokens), else_=0)
        conditions: list[ColumnElement[bool]] = [
            UsageRow.platform == platform,
            UsageRow.trusted == true(),
            UsageRow.created_at >= month_start,
            UsageRow.created_at < day[1],
        ]
        if scope.user_id is not None:
            conditions.append(UsageRow.user_id == scope.user_id)
        if scope.server is not None:
            conditions.append(UsageRow.server_id == scope.server)
        query = select(func.sum(today), func.sum(tokens)).where(*conditions)
        with translating("sum the tokens used"):
            async with self.reading() as session:
                row = (await session.execute(query)).one()
        return Spent(today=int(row[0] or 0), this_month=int(row[1] or 0))

    async def overrides(self, platform: str, server: str) -> Limits:
        with translating("read this server's limits"):
            async with self.reading() as session:
                row = await session.scalar(_override_row(platform, server))
        return _limits_of(row)

    async def set_overrides(
        self, platform: str, server: str, changes: Mapping[Limit, int | None]
    ) -> Limits:
        """Only the named columns change. Two admins setting a server's first limits at
        once both insert: the loser's insert fails on the unique key inside a savepoint,
        and it updates the winner's row."""
        with translating("keep this server's limits"):
            async with self.writing() as session:
                row = await session.scalar(_override_row(platform, server).with_for_update())
                if row is None:
                    try:
                        async with session.begin_nested():
                            row = QuotaOverrideRow(platform=platform, server_id=server)
                            session.add(row)
                            await session.flush()
                    except IntegrityError:
                        row = await session.scalar(
                            _override_row(platform, server).with_for_update()
                        )
                        if row is None:
                            raise
                for limit, value in changes.items():
                    setattr(row, limit.value, value)
                await session.flush()
                return _limits_of(row)

    async def clear_overrides(self, platform: str, server: str) -> None:
        with translating("clear this server's limits"):
            async with self.writing() as session:
                await session.execute(
                    delete(QuotaOverrideRow).where(
                        QuotaOverrideRow.platform == platform, QuotaOverrideRow.server_id == server
                    )
                )

    async def prune(self, *, before: datetime, batch: int) -> int:
        """Oldest first by id, which grows with time, so a batch finds its rows at the
        start of the table without an index on the time alone."""
        oldest = (
            select(AdmissionRow.id)
            .where(AdmissionRow.created_at < before)
            .order_by(AdmissionRow.id)
            .limit(batch)
        )
        with translating("delete old admissions"):
            async with self.writing() as session:
                result = await session.execute(
                    delete(AdmissionRow).where(AdmissionRow.id.in_(oldest.scalar_subquery()))
                )
        return int(getattr(result, "rowcount", 0) or 0)


def _admissions_in(scope: Scope) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if scope.user_id is not None:
        conditions.append(AdmissionRow.user_id == scope.user_id)
    if scope.server is not None:
        conditions.append(AdmissionRow.server_id == scope.server)
    return conditions


def _nth_newest(platform: str, check: RateCheck) -> Select[datetime]:
    """The window's `allowed`-th newest admission: none while there is room for another."""
    return (
        select(AdmissionRow.created_at)
        .where(
            AdmissionRow.platform == platform,
            AdmissionRow.created_at > check.since,
            *_admissions_in(check.scope),
        )
        .order_by(AdmissionRow.created_at.desc())
        .offset(check.allowed - 1)
        .limit(1)
    )


async def _lock_scopes(session: AsyncSession, platform: str, scopes: Sequence[Scope]) -> None:
    """PostgreSQL only: one advisory lock per scope, taken in a fixed order (no deadlock),
    held until the transaction ends. A person's turns in two servers share their user lock."""
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted({f"quota:{platform}:{scope.user_id}:{scope.server}" for scope in scopes})
    for key in keys:
        await session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))


def _override_row(platform: str, server: str) -> Select[QuotaOverrideRow]:
    return select(QuotaOverrideRow).where(
        QuotaOverrideRow.platform == platform, QuotaOverrideRow.server_id == server
    )


def _limits_of(row: QuotaOverrideRow | None) -> Limits:
    if row is None:
        return Limits()
    return Limits().with_values({limit: getattr(row, limit.value) for limit in Limit})
