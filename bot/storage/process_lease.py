"""This process's lease, held while it runs: taken at start, renewed in the background,
released at shutdown; each renewal also settles the replies of processes that died.

Timing only; the SQL is `leases.py`'s. A process that cannot renew (the database is away)
keeps running and says so; once its lease has run out, other processes treat its pending
replies as cut off, and a reply it finishes later is kept beside theirs (replies.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType

from bot.core.errors import StorageError
from bot.core.ports import Clock
from bot.storage.leases import ProcessIdentity, SqlLeases

_log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
"""How long a process's lease lasts after each renewal (LEASE_SECONDS): how long another
process waits before settling the replies of one that died without a word (kill -9, OOM,
power loss). A clean shutdown ends the lease at once."""

LEASE_RENEW_SECONDS = 10.0
"""How often the lease is renewed, and the replies of expired processes looked for
(LEASE_RENEW_SECONDS): a third of the lease, so two renewals may fail before it runs out."""


class ProcessLease:
    """`async with ProcessLease(...)`: registered, with the orphaned replies settled, on
    entry; renewed every `renew_seconds` while open; released on exit."""

    def __init__(
        self,
        leases: SqlLeases,
        *,
        identity: ProcessIdentity,
        clock: Clock,
        wall_clock: Callable[[], datetime],
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = LEASE_RENEW_SECONDS,
    ) -> None:
        """`clock` paces the renewals; `wall_clock` (UTC) dates the lease, as every process
        sharing the database reads it."""
        if not 0 < renew_seconds < lease_seconds:
            raise ValueError("a lease must be renewed more often than it lasts")
        self.identity = identity
        self._leases = leases
        self._clock = clock
        self._wall_clock = wall_clock
        self._lease = timedelta(seconds=lease_seconds)
        self._renew_seconds = renew_seconds
        self._expires_at: datetime | None = None
        self._lapsed_said = False
        self._renewing: asyncio.Task[None] | None = None
        self.settled_at_start = 0

    @property
    def id(self) -> str:
        return self.identity.id

    async def __aenter__(self) -> ProcessLease:
        """Register, then settle what no live process owns (the last run's cut-off replies
        among them), before this process begins any reply of its own."""
        now = self._wall_clock()
        await self._leases.register(self.identity, now=now, expires_at=now + self._lease)
        self._expires_at = now + self._lease
        _log.info(
            "process %s (host %s, pid %d) holds a lease of %g s, renewed every %g s",
            self.identity.id,
            self.identity.host,
            self.identity.pid,
            self._lease.total_seconds(),
            self._renew_seconds,
        )
        self.settled_at_start = await self._leases.settle_orphaned(now=now)
        self._renewing = asyncio.create_task(self._keep_renewing(), name="process-lease")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop renewing and end the lease; a database that refuses is logged, and the
        lease then simply runs out."""
        if self._renewing is not None:
            self._renewing.cancel()
            await asyncio.gather(self._renewing, return_exceptions=True)
        try:
            await self._leases.release(self.identity.id, now=self._wall_clock())
        except StorageError as error:
            _log.warning(
                "could not release this process's lease; it runs out by itself (%s)", error
            )

    async def renew(self) -> None:
        """One renewal and one sweep for the replies of expired processes. Never raises a
        StorageError: it is logged, and the next renewal tries again."""
        now = self._wall_clock()
        expires_at = now + self._lease
        try:
            if not await self._leases.renew(self.identity.id, now=now, expires_at=expires_at):
                _log.warning(
                    "this process's lease had run out and another process settled its "
                    "pending replies; taking the lease again"
                )
                await self._leases.register(self.identity, now=now, expires_at=expires_at)
            self._expires_at, self._lapsed_said = expires_at, False
            await self._leases.settle_expired(now=now)
        except StorageError as error:
            self._say_if_lapsed(now, error)

    def _say_if_lapsed(self, now: datetime, error: StorageError) -> None:
        if self._expires_at is not None and now >= self._expires_at:
            if not self._lapsed_said:
                _log.warning(
                    "this process's lease has run out (the database refuses renewals: %s); "
                    "other processes may settle the replies it is writing",
                    error,
                )
                self._lapsed_said = True
        else:
            _log.warning("could not renew this process's lease; trying again (%s)", error)

    async def _keep_renewing(self) -> None:
        """Renew until cancelled. The outermost boundary of this task: a bug in one renewal
        is logged and the next one tried, since a renewal task that died silently would let
        the lease run out under a live process, and others settle its replies."""
        while True:
            await self._clock.sleep(self._renew_seconds)
            try:
                await self.renew()
            except Exception:  # noqa: BLE001 - the renewal task's boundary: it must go on
                _log.exception("renewing this process's lease failed; trying again")
