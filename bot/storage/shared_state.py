"""SharedState (core/shared_state.py) on SQLite and PostgreSQL: one row per (kind, key).

Knows rows and SQL only; what an entry means is its user's. Each write also deletes a small
batch of expired rows, so the table holds little more than what is live, with no task of
its own; reads ignore what has expired but not yet gone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.secrets import SecretBox
from bot.storage.tables import SharedStateRow
from bot.storage.transactions import Transactions, translating

SWEEP_BATCH_ROWS = 100
"""How many expired rows a write deletes on its way: a short transaction, and far more
than a bot makes expire between two writes."""


class SqlSharedState(Transactions):
    """Implements the `SharedState` port. Time comes from `now` (a wall clock: every
    process must agree on when an entry ends), injected by tests."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        secret_box: SecretBox | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(sessions, secret_box=secret_box)
        self._now = now

    async def put(
        self, kind: str, key: str, value: str, *, ttl: float, owner: str | None = None
    ) -> None:
        """An upsert on (kind, key): two processes putting at once both succeed, the last
        one's value stays."""
        await self._upsert(kind, key, value, ttl=ttl, owner=owner, only_over_expired=False)

    async def claim(self, kind: str, key: str, *, ttl: float, value: str = "") -> bool:
        """INSERT … ON CONFLICT DO UPDATE only WHERE the row there has expired: one
        statement, so of two processes claiming at once one changes a row and the other
        none (the row count tells them apart). An expired row is taken over in place rather
        than waiting for a sweep."""
        return await self._upsert(kind, key, value, ttl=ttl, owner=None, only_over_expired=True)

    async def _upsert(
        self,
        kind: str,
        key: str,
        value: str,
        *,
        ttl: float,
        owner: str | None,
        only_over_expired: bool,
    ) -> bool:
        """Insert the entry, or overwrite the one there (only an expired one, when asked);
        whether a row was written. A small sweep of expired rows rides along."""
        now = self._now()
        values = {
            "kind": kind,
            "key": key,
            "value": value,
            "owner": owner,
            "expires_at": now + timedelta(seconds=ttl),
        }
        with translating("keep shared state"):
            async with self.writing() as session:
                await _sweep(session, now)
                insert = postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert
                statement = insert(SharedStateRow).values(**values)
                result = await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["kind", "key"],
                        set_={name: statement.excluded[name] for name in values},
                        where=SharedStateRow.expires_at <= now if only_over_expired else None,
                    )
                )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def get(self, kind: str, key: str) -> str | None:
        query = select(SharedStateRow.value).where(*self._live(kind, key))
        with translating("read shared state"):
            async with self.reading() as session:
                return await session.scalar(query)

    async def take(self, kind: str, key: str) -> str | None:
        """DELETE … RETURNING: the row goes to exactly one taker (SQLite serialises writers;
        PostgreSQL lets the second delete find nothing once the first commits)."""
        statement = (
            delete(SharedStateRow).where(*self._live(kind, key)).returning(SharedStateRow.value)
        )
        with translating("take shared state"):
            async with self.writing() as session:
                return (await session.execute(statement)).scalar_one_or_none()

    async def delete(self, kind: str, key: str) -> bool:
        return await self.take(kind, key) is not None

    async def delete_owned(self, kind: str, owner: str) -> int:
        """Expired rows too: /forget leaves nothing naming the person, swept or not."""
        now = self._now()
        statement = delete(SharedStateRow).where(
            SharedStateRow.kind == kind, SharedStateRow.owner == owner
        )
        with translating("erase shared state"):
            async with self.writing() as session:
                result = await session.execute(statement)
                await _sweep(session, now)
        return int(getattr(result, "rowcount", 0) or 0)

    def _live(self, kind: str, key: str) -> list[ColumnElement[bool]]:
        return [
            SharedStateRow.kind == kind,
            SharedStateRow.key == key,
            SharedStateRow.expires_at > self._now(),
        ]


async def _sweep(session: AsyncSession, now: datetime) -> None:
    """Delete a batch of expired rows, oldest expiry first, through the expiry index."""
    expired = (
        select(SharedStateRow.id)
        .where(SharedStateRow.expires_at <= now)
        .order_by(SharedStateRow.expires_at)
        .limit(SWEEP_BATCH_ROWS)
    )
    await session.execute(
        delete(SharedStateRow).where(SharedStateRow.id.in_(expired.scalar_subquery()))
    )


def _dialect(session: AsyncSession) -> str:
    return session.get_bind().dialect.name
