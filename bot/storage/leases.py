"""Process leases: which bot processes are alive, and settling the replies of those that died.

Rows and SQL only; when to renew and how long a lease lasts is `process_lease.py`'s. Every
process holds a row in `processes` and renews it; a pending reply names its process
(`messages.owner_process`). A reply is settled as cut off only once its process's lease has
run out (or when it names none: rows written before leases existed), so a process that
starts, the console included, never touches the replies another live process is writing.

Times come from the caller (an injected wall clock): processes on several hosts must keep
their clocks in step (NTP) to well within a lease.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, delete, select, update

from bot.core.domain import MessageStatus
from bot.storage.tables import MessageRow, ProcessRow
from bot.storage.transactions import Transactions, translating
from bot.storage.versions import settle_cut_off

_log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    """Who a process is: a random id (what replies record), and its host and pid for people."""

    id: str
    host: str
    pid: int

    @classmethod
    def new(cls) -> ProcessIdentity:
        """A fresh id: never reused, so a restarted process is never taken for its
        predecessor (whose replies it must settle)."""
        return cls(id=secrets.token_hex(8), host=socket.gethostname(), pid=os.getpid())


class SqlLeases(Transactions):
    """The `processes` table, and settling the pending replies of expired processes.

    Raises StorageError. Every method is one short transaction.
    """

    async def register(self, me: ProcessIdentity, *, now: datetime, expires_at: datetime) -> None:
        """Take (or take again) `me`'s lease until `expires_at`."""
        with translating("register this process"):
            async with self.writing() as session:
                row = await session.get(ProcessRow, me.id, with_for_update=True)
                if row is None:
                    row = ProcessRow(id=me.id, host=me.host, pid=me.pid, started_at=now)
                    session.add(row)
                row.heartbeat_at, row.expires_at = now, expires_at

    async def renew(self, process_id: str, *, now: datetime, expires_at: datetime) -> bool:
        """Move the lease's end to `expires_at`; False when the row is gone (another process
        found the lease run out and settled its replies): the caller registers again."""
        extend = (
            update(ProcessRow)
            .where(ProcessRow.id == process_id)
            .values(heartbeat_at=now, expires_at=expires_at)
            .execution_options(synchronize_session=False)
        )
        with translating("renew this process's lease"):
            async with self.writing() as session:
                result = await session.execute(extend)
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def release(self, process_id: str, *, now: datetime) -> None:
        """End the lease now (a clean shutdown): a reply the process could not settle in
        time is settled by the next sweep of any process, without waiting for the lease."""
        end = (
            update(ProcessRow)
            .where(ProcessRow.id == process_id)
            .values(heartbeat_at=now, expires_at=now)
            .execution_options(synchronize_session=False)
        )
        with translating("release this process's lease"):
            async with self.writing() as session:
                await session.execute(end)

    async def settle_orphaned(self, *, now: datetime) -> int:
        """At start: settle every pending reply without a live owner (its lease has run out,
        its process row is gone, or it names none), and delete the expired leases. How many
        replies were settled."""
        live = select(ProcessRow.id).where(ProcessRow.expires_at > now)
        unowned = MessageRow.owner_process.is_(None) | MessageRow.owner_process.not_in(live)
        return await self._settle(unowned, now=now, everything=True)

    async def settle_expired(self, *, now: datetime) -> int:
        """Periodically: settle the pending replies of processes whose lease ran out by `now`
        and delete those leases; reads only the small `processes` table when none has."""
        return await self._settle(None, now=now, everything=False)

    async def live_processes(self, *, now: datetime) -> list[ProcessIdentity]:
        """The processes whose lease runs past `now`, oldest first: for people and tests."""
        alive = (
            select(ProcessRow)
            .where(ProcessRow.expires_at > now)
            .order_by(ProcessRow.started_at, ProcessRow.id)
        )
        with translating("list the running processes"):
            async with self.reading() as session:
                rows = (await session.scalars(alive)).all()
        return [ProcessIdentity(row.id, row.host, row.pid) for row in rows]

    async def _settle(
        self, unowned: ColumnElement[bool] | None, *, now: datetime, everything: bool
    ) -> int:
        """One transaction: the expired leases locked, their (or `unowned`) pending replies
        settled, the leases deleted. Locking the lease rows first makes a renewal that races
        this sweep wait, then find its row gone and register again."""
        expired_leases = select(ProcessRow.id).where(ProcessRow.expires_at <= now)
        with translating("settle the replies of stopped processes"):
            async with self.writing() as session:
                expired = list((await session.scalars(expired_leases.with_for_update())).all())
                if not everything and not expired:
                    return 0
                orphaned = MessageRow.owner_process.in_(expired) if unowned is None else unowned
                pending = (
                    select(MessageRow)
                    .where(MessageRow.status == MessageStatus.PENDING.value, orphaned)
                    .order_by(MessageRow.id)
                    .with_for_update()
                )
                rows = (await session.scalars(pending)).all()
                for row in rows:
                    settle_cut_off(row)
                if expired:
                    gone = (
                        delete(ProcessRow)
                        .where(ProcessRow.id.in_(expired))
                        .execution_options(synchronize_session=False)
                    )
                    await session.execute(gone)
        if rows:
            _log.info(
                "settled %d reply(ies) left pending by stopped processes (%d lease(s) ran out)",
                len(rows),
                len(expired),
            )
        return len(rows)
