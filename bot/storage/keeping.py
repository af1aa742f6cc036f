"""Keeping streaming replies' text on SQLite: small UPDATEs over a connection of their own.

Each streaming reply keeps its text so far about once a second. Through aiosqlite and an ORM
session one such UPDATE cost about 3 ms of CPU, more than the tokens of that second cost;
over a plain sqlite3 connection kept on one thread it costs about 0.15 ms. PostgreSQL and
in-memory databases use the store's ordinary path.
"""

from __future__ import annotations

import asyncio
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, nullcontext

from sqlalchemy import bindparam, make_url, update
from sqlalchemy.dialects import sqlite

from bot.core.domain import MessageId, MessageStatus
from bot.core.errors import StorageError
from bot.core.storable import storable_text
from bot.storage.db import SQLITE_BUSY_TIMEOUT_MS
from bot.storage.tables import MessageRow

_KEEP = (
    update(MessageRow)
    .where(
        MessageRow.id == bindparam("reply_id"),
        MessageRow.status == bindparam("pending"),
        MessageRow.owner_process.is_not_distinct_from(bindparam("owner")),
    )
    .values(
        partial=bindparam("content"),
        partial_reasoning=bindparam("reasoning"),
        updated_at=MessageRow.updated_at,  # a keep is not a change of the reply
    )
    .compile(dialect=sqlite.dialect(paramstyle="named"))
)

_KEEP_SQL = str(_KEEP)


class SqliteKeeping:
    """Writes `partial` texts of pending replies, one at a time, on a thread of its own.

    Takes the process's SQLite write lock first (`db.write_lock`), so it queues with every
    other writer instead of racing them for the file's lock.
    """

    def __init__(self, path: str, *, write_lock: asyncio.Lock | None) -> None:
        self._path = path
        self._lock: AbstractAsyncContextManager[object] = write_lock or nullcontext()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="parlor-keeping")
        self._db: sqlite3.Connection | None = None

    @classmethod
    def for_url(cls, url: str, *, write_lock: asyncio.Lock | None) -> SqliteKeeping | None:
        """Keeping for a SQLite file; None for any other database."""
        parsed = make_url(url)
        database = parsed.database
        if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return None
        if parsed.query.get("uri") or database.startswith("file:"):
            return None
        return cls(database, write_lock=write_lock)

    async def save(
        self, reply_id: MessageId, *, content: str, reasoning: str, owner: str | None = None
    ) -> None:
        """Store the pending reply's text so far; a settled reply, or one another process
        (not `owner`) is writing now, is left as it is."""
        values = {
            "reply_id": reply_id,
            "pending": MessageStatus.PENDING.value,
            "owner": owner,
            "content": storable_text(content),
            "reasoning": storable_text(reasoning),
        }
        loop = asyncio.get_running_loop()
        async with self._lock:
            await loop.run_in_executor(self._thread, self._write, values)

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._thread, self._close)
        self._thread.shutdown(wait=True)

    def _write(self, values: dict[str, object]) -> None:
        try:
            db = self._db or self._connect()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(_KEEP_SQL, values)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StorageError(
                f"The database could not keep the reply so far ({type(exc).__name__})."
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        db.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA secure_delete = ON")  # as every connection of ours (db.py)
        self._db = db
        return db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
