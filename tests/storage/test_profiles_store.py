"""Profiles on both databases: copies re-encrypt the key, deletes detach channels."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.core.domain import ChannelKey, Secret
from bot.core.errors import StorageError, UsageError
from bot.storage.db import create_sessions
from bot.storage.profiles import SqlProfiles
from bot.storage.secrets import SecretBox, connection_binding
from bot.storage.store import SqlStore
from bot.storage.tables import ConnectionRow

KEY = ChannelKey("test", "one")
SCOPE = "server:test:g1"
SECRET = "sk-profile-secret-0042"


@pytest.fixture
def profiles(engine: AsyncEngine, secret_box: SecretBox) -> SqlProfiles:
    return SqlProfiles(create_sessions(engine), secret_box=secret_box)


async def test_copied_key_is_bound_to_the_profile(
    store: SqlStore, profiles: SqlProfiles, engine: AsyncEngine, secret_box: SecretBox
) -> None:
    """The profile holds its own ciphertext: the channel's would not decrypt for it."""
    await store.save_connection(KEY, base_url="http://h/v1", api_key=Secret(SECRET))
    await profiles.save_profile(SCOPE, "home", channel=KEY, base_url=None, api_key=None, model=None)
    async with engine.connect() as connection:
        rows = {
            row.name: row.api_key_encrypted
            for row in await connection.execute(select(ConnectionRow))
        }
    assert rows["home"] != rows["channel"]
    assert secret_box.decrypt(rows["home"], binding=connection_binding(SCOPE, "home")) == (
        Secret(SECRET)
    )
    with pytest.raises(StorageError):
        secret_box.decrypt(rows["channel"], binding=connection_binding(SCOPE, "home"))


async def test_use_then_delete_detaches_the_channel(store: SqlStore, profiles: SqlProfiles) -> None:
    """A channel using a deleted profile falls back to the operator's endpoint."""
    await profiles.save_profile(
        SCOPE, "p", channel=KEY, base_url="http://h/v1", api_key=None, model="m"
    )
    assert await profiles.use_profile(KEY, SCOPE, "p") is True
    connection = (await store.load_channel(KEY)).connection
    assert connection is not None
    assert (connection.name, connection.model) == ("p", "m")
    assert await profiles.delete_profile(SCOPE, "p") == 1
    assert (await store.load_channel(KEY)).connection is None
    assert await profiles.delete_profile(SCOPE, "p") is None


async def test_reserved_name_is_refused(profiles: SqlProfiles) -> None:
    """'channel' names a channel's own connection and cannot be a profile."""
    with pytest.raises(UsageError, match="reserved"):
        await profiles.save_profile(
            SCOPE, "channel", channel=KEY, base_url="http://h/v1", api_key=None, model=None
        )
