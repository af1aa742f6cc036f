"""Alembic environment for Parlor: our engine (SQLite pragmas included) and our models.

The URL comes from the caller (`bot.storage.migrate`, which passes a live connection),
else from DATABASE_URL, else the default SQLite file. alembic.ini never holds one.
"""

from __future__ import annotations

import asyncio
import os
from logging.config import fileConfig
from typing import Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from alembic.util.exc import CommandError
from sqlalchemy import Connection, TypeDecorator, text

from bot.storage.db import create_engine
from bot.storage.tables import Base

DEFAULT_URL = "sqlite+aiosqlite:///data/parlor.db"
# pg_advisory_xact_lock key ("parlor" in ASCII): one migrating process at a time.
MIGRATION_LOCK_KEY = 0x7061726C6F72

config = context.config
target_metadata = Base.metadata

if config.config_file_name is not None:
    # Only from the alembic CLI: the bot configures its own logging.
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL") or DEFAULT_URL


def render_item(type_: str, obj: object, _context: AutogenContext) -> str | Literal[False]:
    """Migrations spell our column types in plain SQLAlchemy, so they never import bot code."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def do_run_migrations(connection: Connection) -> None:
    """All pending revisions in one transaction.

    On SQLite, foreign keys are off while migrating: a batch migration copies a
    table and drops the old one, and with foreign keys on that DROP would run the
    ON DELETE actions of every referencing row. `PRAGMA foreign_key_check` then
    vets the result before commit, as sqlite.org's procedure for schema changes asks.
    """
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _set_sqlite_foreign_keys(connection, enabled=False)
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # We emit BEGIN ourselves (bot.storage.db), so SQLite DDL is
            # transactional too: a failed migration leaves no half-built schema.
            transactional_ddl=True,
            compare_type=True,
            render_as_batch=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
            context.run_migrations()
            if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
                raise CommandError("the migration left rows that break a foreign key")
    finally:
        if sqlite:
            _set_sqlite_foreign_keys(connection, enabled=True)


def _set_sqlite_foreign_keys(connection: Connection, *, enabled: bool) -> None:
    # Straight to the driver: through SQLAlchemy the PRAGMA would run inside a
    # transaction, where SQLite silently ignores it.
    raw = connection.connection.dbapi_connection
    assert raw is not None
    cursor = raw.cursor()
    try:
        cursor.execute(f"PRAGMA foreign_keys = {'ON' if enabled else 'OFF'}")
    finally:
        cursor.close()


async def run_migrations_online() -> None:
    engine = create_engine(database_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
elif (shared := config.attributes.get("connection")) is not None:
    do_run_migrations(shared)
else:
    asyncio.run(run_migrations_online())
