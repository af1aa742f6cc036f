"""Usage accounting: one row per turn, and a person's or a server's totals over a window.

Knows rows and SQL only; what the totals mean to people is the /usage command's business.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, or_, select

from bot.core.domain import TokenSource, UsageEntry, UsageGroup, UsageTotals
from bot.storage.tables import UsageRow
from bot.storage.transactions import Transactions, translating


class SqlUsage(Transactions):
    """Implements the `UsageLedger` port on SQLite and PostgreSQL."""

    async def record(self, entry: UsageEntry) -> None:
        """Insert the turn's row; StorageError when the database refuses it."""
        row = UsageRow(
            created_at=entry.created_at,
            platform=entry.platform,
            user_id=entry.user_id,
            server_id=entry.server,
            channel_id=entry.channel,
            model=entry.model,
            endpoint_host=entry.endpoint_host,
            trusted=entry.trusted,
            prompt_tokens=entry.prompt_tokens.tokens,
            completion_tokens=entry.completion_tokens.tokens,
            prompt_estimated=entry.prompt_tokens.source is TokenSource.ESTIMATED,
            completion_estimated=entry.completion_tokens.source is TokenSource.ESTIMATED,
            duration_seconds=entry.duration_seconds,
            status=entry.status.value,
        )
        with translating("record a turn's usage"):
            async with self.writing() as session:
                session.add(row)

    async def totals(
        self,
        platform: str,
        *,
        since: datetime,
        until: datetime,
        user_id: str | None = None,
        server: str | None = None,
    ) -> list[UsageGroup]:
        """Per (user, model), summed in the database: a month of a busy server reads as
        many rows as it has people times models, not one per turn. Either filter meets
        an index that starts (platform, user_id | server_id, created_at)."""
        estimated = case(
            (or_(UsageRow.prompt_estimated, UsageRow.completion_estimated), 1), else_=0
        )
        query = (
            select(
                UsageRow.user_id,
                UsageRow.model,
                func.count(),
                func.sum(UsageRow.prompt_tokens),
                func.sum(UsageRow.completion_tokens),
                func.sum(estimated),
            )
            .where(
                UsageRow.platform == platform,
                UsageRow.created_at >= since,
                UsageRow.created_at < until,
            )
            .group_by(UsageRow.user_id, UsageRow.model)
            .order_by(UsageRow.user_id, UsageRow.model)
        )
        if user_id is not None:
            query = query.where(UsageRow.user_id == user_id)
        if server is not None:
            query = query.where(UsageRow.server_id == server)
        with translating("read usage totals"):
            async with self.reading() as session:
                rows = (await session.execute(query)).all()
        return [
            UsageGroup(
                user,
                model,
                UsageTotals(int(turns), int(prompt or 0), int(completion or 0), int(guessed or 0)),
            )
            for user, model, turns, prompt, completion, guessed in rows
        ]
