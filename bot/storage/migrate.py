"""Schema migrations run from code at start-up: alembic, configured here, not by alembic.ini.

The database URL always comes from the caller (Settings); this module reads no configuration.
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.core.errors import StorageError
from bot.storage.db import create_engine, open_failure

_log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(str(resources.files("bot.migrations")))
"""Shipped inside the package, so an installed wheel migrates from wherever it runs (a
regular install keeps package files on disk, which alembic needs)."""


def alembic_config(url: str) -> Config:
    """An alembic Config built in code: the package's migrations and the caller's URL.

    `env.py` uses the connection placed in `attributes["connection"]` when there is one.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    # ConfigParser interpolation would read a "%" in a password as a reference.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def current_head() -> str:
    """The newest revision in `migrations/versions`."""
    try:
        head = ScriptDirectory.from_config(alembic_config("")).get_current_head()
    except CommandError as exc:
        raise StorageError(f"the migrations in {MIGRATIONS_DIR} can't be read: {exc}") from exc
    if head is None:
        raise StorageError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


async def upgrade_to_head(url: str) -> None:
    """Bring the database to the newest revision; a database already there is left alone."""
    await upgrade_to(url, "head")


async def upgrade_to(url: str, revision: str) -> None:
    """Bring the database to `revision` (tests use older ones to migrate real data forward).

    Safe at every start and from several processes at once: on PostgreSQL env.py
    holds an advisory lock for the migration transaction, on SQLite BEGIN IMMEDIATE
    does the same. Not from two tasks of one process at once, though: alembic's
    `context` and `op` proxies are process-global.
    """
    config = alembic_config(url)
    try:
        engine = create_engine(url)
    except (SQLAlchemyError, ValueError) as exc:
        # Not expected once Settings has checked the URL; their text may quote it, password
        # and all, so only the class is shown.
        _log.debug("creating the engine failed: %s", type(exc).__name__)
        raise StorageError(
            f"The database can't be opened ({type(exc).__name__}): check DATABASE_URL."
        ) from exc
    try:
        try:
            connection = await engine.connect()
        except (SQLAlchemyError, OSError) as exc:
            raise open_failure(url, exc) from exc
        try:
            await connection.run_sync(_upgrade, config, revision)
        finally:
            await connection.close()
    except CommandError as exc:
        # e.g. a database stamped by a newer Parlor than this one; alembic's text names
        # revisions, never the URL.
        raise StorageError(f"The database schema can't be migrated: {exc}") from exc
    except (SQLAlchemyError, OSError) as exc:
        # The driver's text may quote SQL, so it goes to the DEBUG log, not the line.
        _log.debug("migrating the database failed: %s: %s", type(exc).__name__, exc)
        raise StorageError(
            f"The database could not be migrated to revision {current_head()} "
            f"({type(exc).__name__}): run with LOG_LEVEL=DEBUG to see the database's message."
        ) from exc
    finally:
        await engine.dispose()


def _upgrade(connection: Connection, config: Config, revision: str) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, revision)
    _log.info(
        "database schema is at revision %s", current_head() if revision == "head" else revision
    )
