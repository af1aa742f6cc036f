"""API keys in SqlStore: encrypted at rest, bound to their row, cleared on a new host, rotatable."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.domain import ChannelKey, Connection, Secret
from bot.core.errors import SecretsUnavailable, StorageError
from bot.storage.db import create_engine
from bot.storage.secrets import SecretBox
from bot.storage.store import SqlStore
from bot.storage.tables import ConnectionRow
from tests.storage.conftest import new_box, store_on

KEY = ChannelKey("discord", "1234567890")
OTHER = ChannelKey("discord", "555")
PLAINTEXT_KEY = "sk-live-0123456789abcdefWXYZ"
URL = "https://api.example.com/v1"
NEW_URL = "https://elsewhere.example.net/v1"


async def stored_keys(engine: AsyncEngine) -> list[tuple[str, bytes | None, str | None]]:
    query = select(ConnectionRow.scope, ConnectionRow.api_key_encrypted, ConnectionRow.key_hint)
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    return [(scope, encrypted, hint) for scope, encrypted, hint in rows]


def bytes_of_files(directory: Path) -> bytes:
    """The database file and its WAL, where a just-committed row may still sit."""
    return b"".join(path.read_bytes() for path in sorted(directory.glob("parlor.db*")))


async def test_saved_connection_is_loaded_back_untrusted_with_its_key(store: SqlStore) -> None:
    """A chat-set connection comes back with its key, and is never trusted."""
    await store.save_connection(KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY))

    assert (await store.load_channel(KEY)).connection == Connection(
        base_url=URL, api_key=Secret(PLAINTEXT_KEY), trusted=False
    )


async def test_api_key_is_encrypted_in_its_column(store: SqlStore, engine: AsyncEngine) -> None:
    """The column holds ciphertext and the hint holds the masked form, never the key."""
    await store.save_connection(KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY))

    [(_scope, encrypted, hint)] = await stored_keys(engine)
    assert encrypted is not None
    assert PLAINTEXT_KEY.encode() not in encrypted
    assert hint == Secret(PLAINTEXT_KEY).masked()
    assert PLAINTEXT_KEY not in (hint or "")


async def test_api_key_is_absent_from_the_sqlite_files(
    tmp_path: Path, migrated_sqlite_url: str
) -> None:
    """No byte of the database or its WAL holds the plaintext key."""
    url = migrated_sqlite_url
    engine = create_engine(url)
    try:
        await store_on(engine, new_box()).save_connection(
            KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY)
        )
        on_disk = bytes_of_files(tmp_path)
    finally:
        await engine.dispose()

    assert URL.encode() in on_disk  # the row did reach the files we read
    assert PLAINTEXT_KEY.encode() not in on_disk


async def test_new_base_url_without_a_key_clears_the_stored_key(
    store: SqlStore, engine: AsyncEngine
) -> None:
    """A key never follows the connection to a new host."""
    await store.save_connection(KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY))

    await store.save_connection(KEY, base_url=NEW_URL, api_key=None)

    assert (await store.load_channel(KEY)).connection == Connection(base_url=NEW_URL)
    assert await stored_keys(engine) == [(str(KEY), None, None)]


async def test_same_base_url_without_a_key_keeps_the_stored_key(store: SqlStore) -> None:
    """Saving the same URL again without a key leaves the key in place."""
    await store.save_connection(KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY))

    await store.save_connection(KEY, base_url=URL, api_key=None)

    connection = (await store.load_channel(KEY)).connection
    assert connection is not None
    assert connection.api_key == Secret(PLAINTEXT_KEY)


async def test_new_key_replaces_the_stored_key(store: SqlStore) -> None:
    """A given key always wins, on the same host or a new one."""
    await store.save_connection(KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY))

    await store.save_connection(KEY, base_url=NEW_URL, api_key=Secret("sk-second-key-9876"))

    connection = (await store.load_channel(KEY)).connection
    assert connection == Connection(base_url=NEW_URL, api_key=Secret("sk-second-key-9876"))


async def test_ciphertext_moved_to_another_channel_fails_to_decrypt(
    store: SqlStore, engine: AsyncEngine
) -> None:
    """A key copied into another channel's row is refused there."""
    await store.save_connection(KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY))
    await store.save_connection(OTHER, base_url=URL, api_key=None)
    [stolen] = [encrypted for scope, encrypted, _hint in await stored_keys(engine) if encrypted]
    async with engine.begin() as connection:
        await connection.execute(
            update(ConnectionRow)
            .where(ConnectionRow.scope == str(OTHER))
            .values(api_key_encrypted=stolen)
        )

    with pytest.raises(StorageError, match="cannot be decrypted"):
        await store.load_channel(OTHER)


async def test_key_saved_before_rotation_is_read_with_new_and_old_keys(
    engine: AsyncEngine,
) -> None:
    """Prepending a new encryption key keeps every stored key readable."""
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    await store_on(engine, SecretBox.from_keys([old_key])).save_connection(
        KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY)
    )

    rotated_store = store_on(engine, SecretBox.from_keys([new_key, old_key]))

    connection = (await rotated_store.load_channel(KEY)).connection
    assert connection is not None
    assert connection.api_key == Secret(PLAINTEXT_KEY)


async def test_key_under_a_removed_encryption_key_fails_closed(engine: AsyncEngine) -> None:
    """A key no configured encryption key opens is an error, not a keyless request."""
    await store_on(engine, new_box()).save_connection(
        KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY)
    )

    with pytest.raises(StorageError, match="cannot be decrypted"):
        await store_on(engine, new_box()).load_channel(KEY)


async def test_without_encryption_keys_saving_a_key_changes_nothing(engine: AsyncEngine) -> None:
    """No ENCRYPTION_KEYS: a key is refused with advice, and the old connection stays."""
    store = store_on(engine, None)
    await store.save_connection(KEY, base_url=URL, api_key=None)

    with pytest.raises(SecretsUnavailable, match="ENCRYPTION_KEYS"):
        await store.save_connection(KEY, base_url=NEW_URL, api_key=Secret(PLAINTEXT_KEY))

    assert (await store.load_channel(KEY)).connection == Connection(base_url=URL)
    assert await stored_keys(engine) == [(str(KEY), None, None)]


async def test_without_encryption_keys_a_stored_key_fails_closed(engine: AsyncEngine) -> None:
    """A stored key with no ENCRYPTION_KEYS to open it is an error on load."""
    await store_on(engine, new_box()).save_connection(
        KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY)
    )

    with pytest.raises(StorageError, match="ENCRYPTION_KEYS"):
        await store_on(engine, None).load_channel(KEY)


async def test_clear_connection_forgets_the_connection_and_its_key(
    store: SqlStore, engine: AsyncEngine
) -> None:
    """After clearing, the channel uses the operator default and no key is stored."""
    await store.save_connection(KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY))

    await store.clear_connection(KEY)

    assert (await store.load_channel(KEY)).connection is None
    async with engine.connect() as connection:
        assert await connection.scalar(select(func.count()).select_from(ConnectionRow)) == 0


async def test_clear_connection_repairs_an_unreadable_key(engine: AsyncEngine) -> None:
    """Clearing needs no decryption, so a channel with a lost key can be fixed."""
    await store_on(engine, new_box()).save_connection(
        KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY)
    )
    store = store_on(engine, new_box())

    await store.clear_connection(KEY)

    assert (await store.load_channel(KEY)).connection is None


async def test_count_encrypted_keys_counts_rows_with_a_key(store: SqlStore) -> None:
    """Start-up can tell whether stored keys need ENCRYPTION_KEYS."""
    await store.save_connection(KEY, base_url=URL, api_key=Secret(PLAINTEXT_KEY))
    await store.save_connection(OTHER, base_url=URL, api_key=None)

    assert await store.count_encrypted_keys() == 1
