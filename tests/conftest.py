"""A migrated SQLite database made once per test session, copied for each test that wants one.

Running the migrations costs a few hundred milliseconds; copying their result costs almost
nothing. Under xdist each worker is a session of its own and makes its own template. The tests
of the migrations themselves (tests/storage/test_migrate.py) still migrate for real.
"""

from __future__ import annotations

import asyncio
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from bot.storage.migrate import upgrade_to_head


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file at the newest revision. Never opened after this: tests get copies."""
    path = tmp_path_factory.mktemp("template") / "parlor.db"
    # A thread of its own: a session fixture may first be asked for inside a test's loop.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, upgrade_to_head(sqlite_url(path))).result()
    # The engine is disposed, so WAL has been checkpointed into the file; a leftover log
    # would mean the copy misses the last writes.
    assert not path.with_name("parlor.db-wal").exists()
    return path


def copy_of_template(template: Path, destination: Path) -> str:
    """Copy the migrated template to `destination` and return its URL."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, destination)
    return sqlite_url(destination)


@pytest.fixture
def migrated_sqlite_url(tmp_path: Path, migrated_template: Path) -> str:
    """The URL of a fresh SQLite database at the newest revision, this test's alone."""
    return copy_of_template(migrated_template, tmp_path / "parlor.db")
