"""The database engine and its session factory, with SQLite tuned for one busy writer.

Knows connection URLs, pragmas and transaction start-up; knows nothing of tables or the domain.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.ext.asyncio import create_async_engine as _create_async_engine

from bot.core.errors import StorageError
from bot.core.storable import storable_json_text

_log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5000

READ_ONLY_OPTION = "parlor_read_only"
"""Execution option for a session that only reads: on SQLite it begins DEFERRED, so
it neither takes nor waits for the write lock. Pass it as
`sessions(execution_options={READ_ONLY_OPTION: True})`."""

_WAL_RETRY_SECONDS = 0.01

_WRITE_LOCK = "parlor_write_lock"


def create_engine(url: str) -> AsyncEngine:
    """One engine per process, for `sqlite+aiosqlite://` or `postgresql+asyncpg://` URLs.

    For a SQLite file the parent directory is created (a `StorageError` saying what to do
    when it can't be), each new connection gets
    the pragmas of `_on_sqlite_connect`, and every transaction is begun by us:
    BEGIN IMMEDIATE for writes (a deferred transaction that reads and then writes
    fails at once with SQLITE_BUSY when another writer got in first, ignoring
    busy_timeout), BEGIN DEFERRED for sessions marked with `READ_ONLY_OPTION`.

    Statement parameters are hidden from error messages and logs: they hold chat
    text and encrypted keys. JSON is written through `storable_json_text`, as text columns
    are through `StorableText`, so no value is refused for a NUL or a lone surrogate.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A server may drop idle connections; a local file never does.
        return _create_async_engine(
            parsed, hide_parameters=True, pool_pre_ping=True, json_serializer=storable_json_text
        )
    _prepare_sqlite_file(parsed)
    engine = _create_async_engine(parsed, hide_parameters=True, json_serializer=storable_json_text)
    event.listen(engine.sync_engine, "connect", _on_sqlite_connect)
    event.listen(engine.sync_engine, "begin", _on_sqlite_begin)
    return engine


def create_sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions whose objects stay readable after commit, so no attribute access does
    hidden IO (which would raise `MissingGreenlet` under asyncio).

    On SQLite the factory carries the process's one write lock (see `write_lock`); build
    every store part of a process on the same factory so that they share it.
    """
    info: dict[str, object] = {}
    if engine.dialect.name == "sqlite":
        info[_WRITE_LOCK] = asyncio.Lock()
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def write_lock(sessions: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    """The lock that lets one write transaction at a time into a SQLite file, else None.

    SQLite has one writer at a time anyway. Left to busy_timeout, hundreds of waiting
    writers each hold a pooled connection and retry on their own schedule, unfairly, so
    under a burst some wait past the timeout and a turn is refused ("database is
    locked"). Queued on an asyncio lock instead they wait in order and hold no
    connection; busy_timeout is left for other processes on the same file.
    PostgreSQL locks rows, so its writers run side by side.
    """
    lock = sessions.kw.get("info", {}).get(_WRITE_LOCK)
    return lock if isinstance(lock, asyncio.Lock) else None


def _prepare_sqlite_file(url: URL) -> None:
    database = url.database
    if (
        not database
        or database == ":memory:"
        or url.query.get("uri")
        or database.startswith("file:")
    ):
        return
    path = Path(database).expanduser()
    if not path.parent.is_dir():
        _create_directory(path.parent)
    _probe(url, path)


def _create_directory(parent: Path) -> None:
    """Created on first start, as `make run` and a fresh volume rely on."""
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _log.debug("creating %s failed: %s: %s", parent, type(exc).__name__, exc)
        raise StorageError(
            f"The database directory {parent} can't be created ({exc.strerror or exc}): "
            f"create it, writable by {_this_user()}, or set DATABASE_URL to a file in a "
            "writable directory."
        ) from exc
    _log.info("created the database directory %s", parent)


def _probe(url: URL, path: Path) -> None:
    """Open the file once, in this thread, so that a file that can't be opened is reported
    here. Left to aiosqlite, a failed open leaves its worker thread posting to the event
    loop after `asyncio.run` has closed it, which prints a traceback after our line.
    A busy file is fine: someone else has it open, so it can be opened."""
    try:
        with closing(sqlite3.connect(path)) as probe:
            probe.execute("PRAGMA schema_version")
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_BUSY:
            return
        raise open_failure(url, exc) from exc


def open_failure(url: str | URL, exc: Exception) -> StorageError:
    """The one line an operator reads when the database can't be opened or reached.

    It names the file or the host and port (never the password) and what to do. The
    reason quoted is an OS error or the server's refusal of the login, which hold no
    SQL and no values; the driver's whole exception goes to the log at DEBUG.
    """
    _log.debug("opening the database failed: %s: %s", type(exc).__name__, exc)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database or "").expanduser()
        return StorageError(
            f"The SQLite database {path} can't be opened ({_reason(exc)}): check that "
            f"{path.parent} exists and {_this_user()} may write to it, or set DATABASE_URL "
            "to a file in a writable directory."
        )
    where = f"{parsed.host or 'localhost'}:{parsed.port or 5432}"
    if isinstance(exc, DBAPIError):
        return StorageError(
            f"PostgreSQL at {where} refused the connection ({_reason(exc)}): check the user, "
            "password and database name in DATABASE_URL, and create the database if it is new."
        )
    return StorageError(
        f"PostgreSQL at {where} can't be reached ({_reason(exc)}): start it, or fix the host "
        "and port in DATABASE_URL."
    )


_OS_REASONS: tuple[tuple[type[OSError], str], ...] = (
    (ConnectionRefusedError, "connection refused"),
    (socket.gaierror, "unknown host"),
    (TimeoutError, "timed out"),
)


def _reason(exc: Exception) -> str:
    """A few words on why, without the URL: the database's own message (for a
    DBAPIError, its `orig`: SQLAlchemy's text adds SQL), else the OS's, else the class."""
    if isinstance(exc, OSError):
        named = (words for kind, words in _OS_REASONS if isinstance(exc, kind))
        return next(named, exc.strerror or type(exc).__name__)
    message = ""
    if isinstance(exc, DBAPIError):
        message = str(exc.orig)
    elif isinstance(exc, sqlite3.Error):
        message = str(exc)
    return message.strip() or type(exc).__name__


def _this_user() -> str:
    """Who must be able to write: in a container the uid is what a volume's owner must match."""
    getuid = getattr(os, "getuid", None)
    return f"this user (uid {getuid()})" if getuid is not None else "this user"


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take BEGIN away from the sqlite3 driver, whose legacy mode would open
    # transactions lazily (and never for SELECT); `_on_sqlite_begin` emits our own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: the journal mode change below needs a lock.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Deleted and overwritten content is zeroed in the file, not left in free space:
        # /forget and retention must leave no copy behind (erasure.py empties the log too).
        cursor.execute("PRAGMA secure_delete = ON")
    finally:
        cursor.close()


def _enable_wal(cursor: Any) -> None:
    """Switch a new database file to WAL; the mode then persists in the file.

    Two connections converting a fresh file at once make one fail with
    SQLITE_BUSY straight away, busy_timeout or not (a reader may not wait for a
    lock held by someone waiting on it). That only happens on first start, and one
    short retry settles it; the sleep briefly holds the event loop, which is acceptable
    there. A file that is already WAL never takes this path.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
            _log.debug("another connection is converting the database to WAL; retrying")
            time.sleep(_WAL_RETRY_SECONDS)
        else:
            return


def _on_sqlite_begin(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")
