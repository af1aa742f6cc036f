"""Process leases for tests that kill a bot and start another: short leases, and waiting
(polling with a deadline) until a killed bot's lease has run out.

A process settles another's replies only once that one's lease has run out (LEASE_SECONDS,
30 s by default), so tests that kill a bot run it with a lease of about a second.
"""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

SHORT_LEASES = {"LEASE_SECONDS": "1", "LEASE_RENEW_SECONDS": "0.25"}
"""Settings for a bot whose killed replies others may settle a second later."""

WAIT_SECONDS = 20.0
POLL_SECONDS = 0.05


def lease_ends(database: Path) -> list[datetime]:
    """When each lease in the SQLite file runs out, as the bots wrote it."""
    with sqlite3.connect(database) as db:
        rows = db.execute("select expires_at from processes").fetchall()
    return [datetime.fromisoformat(str(end)).replace(tzinfo=UTC) for (end,) in rows]


def wait_until_leases_run_out(database: Path) -> None:
    """Until no lease in the file is still running: a start then settles every reply a
    killed bot left pending."""
    deadline = time.monotonic() + WAIT_SECONDS
    while any(end > datetime.now(UTC) for end in lease_ends(database)):
        assert time.monotonic() < deadline, "a lease is still running; is a bot alive?"
        time.sleep(POLL_SECONDS)
