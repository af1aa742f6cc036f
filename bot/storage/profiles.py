"""Named connection profiles of a server or chat, and which one a channel uses.

A profile is a connections row with scope = the server or chat and a name; a
key is encrypted bound to that (scope, name), so copying one re-encrypts it.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bot.core.domain import ChannelKey, ProfileSummary, Secret
from bot.core.errors import SecretsUnavailable, StorageError, UsageError
from bot.storage.rows import CHANNEL_CONNECTION_NAME
from bot.storage.secrets import NO_ENCRYPTION_KEYS, connection_binding
from bot.storage.tables import ChannelRow, ConnectionRow
from bot.storage.transactions import Transactions, lock_settings, translating


class SqlProfiles(Transactions):
    """Implements the `Profiles` port: named connections a server or chat saves and switches to."""

    async def save_profile(
        self,
        scope: str,
        name: str,
        *,
        channel: ChannelKey,
        base_url: str | None,
        api_key: Secret | None,
        model: str | None,
    ) -> None:
        """Create or update a profile.

        Without a base URL the channel's current connection (a thread's: its parent's) is
        copied, its key re-encrypted for the profile. With one, a changed URL forgets the
        old key and extras unless a new key comes with it, as for /connect.
        """
        if name == CHANNEL_CONNECTION_NAME:
            raise UsageError(f"'{name}' is reserved; choose another profile name.")
        if api_key is not None and self._secret_box is None:
            raise SecretsUnavailable(NO_ENCRYPTION_KEYS)
        with translating("save the profile"):
            async with self.writing() as session:
                channel_row = await lock_settings(session, channel)
                source = (
                    await session.get(ConnectionRow, channel_row.connection_id)
                    if channel_row.connection_id is not None
                    else None
                )
                copied_key, copied_params = None, None
                if base_url is None:
                    if source is None:
                        raise UsageError(
                            "This channel uses the operator's endpoint, which can't be saved "
                            "as a profile; give base_url:<url>."
                        )
                    base_url = source.base_url
                    model = model or channel_row.model or source.model
                    copied_key = self._decrypt(source) if source.api_key_encrypted else None
                    copied_params = dict(source.params)
                row = await session.scalar(
                    select(ConnectionRow).where(
                        ConnectionRow.scope == scope, ConnectionRow.name == name
                    )
                )
                if row is None:
                    row = ConnectionRow(scope=scope, name=name, base_url=base_url)
                    session.add(row)
                elif row.base_url != base_url and api_key is None and copied_key is None:
                    row.api_key_encrypted, row.key_hint, row.params = None, None, {}
                row.base_url = base_url
                row.model = model or row.model
                if copied_params is not None:
                    row.params = copied_params
                key = api_key or copied_key
                if key is not None and self._secret_box is not None:
                    binding = connection_binding(scope, name)
                    row.api_key_encrypted = self._secret_box.encrypt(key, binding=binding)
                    row.key_hint = key.masked()

    def _decrypt(self, row: ConnectionRow) -> Secret:
        if self._secret_box is None or row.api_key_encrypted is None:
            raise StorageError("the channel's stored key can't be read to copy it")
        return self._secret_box.decrypt(
            row.api_key_encrypted, binding=connection_binding(row.scope, row.name)
        )

    async def use_profile(self, key: ChannelKey, scope: str, name: str) -> bool:
        """Point the channel (a thread: its parent) at a profile; False when there is no
        such profile."""
        with translating("switch the profile"):
            async with self.writing() as session:
                channel = await lock_settings(session, key)
                row = await session.scalar(
                    select(ConnectionRow).where(
                        ConnectionRow.scope == scope, ConnectionRow.name == name
                    )
                )
                if row is None:
                    return False
                channel.connection_id = row.id
                channel.model = None  # the profile's model applies
                return True

    async def list_profiles(self, scope: str) -> list[ProfileSummary]:
        users = (
            select(func.count())
            .select_from(ChannelRow)
            .where(ChannelRow.connection_id == ConnectionRow.id)
            .scalar_subquery()
        )
        query = (
            select(ConnectionRow, users)
            .where(ConnectionRow.scope == scope, ConnectionRow.name != CHANNEL_CONNECTION_NAME)
            .order_by(ConnectionRow.name)
        )
        with translating("list the profiles"):
            async with self.reading() as session:
                rows = (await session.execute(query)).all()
        return [
            ProfileSummary(row.name, row.base_url, row.key_hint, row.model, count)
            for row, count in rows
        ]

    async def delete_profile(self, scope: str, name: str) -> int | None:
        """Delete a profile and its key; channels using it go back to the operator's
        endpoint. Returns how many did, or None when there was no such profile.
        """
        with translating("delete the profile"):
            async with self.writing() as session:
                row = await session.scalar(
                    select(ConnectionRow).where(
                        ConnectionRow.scope == scope, ConnectionRow.name == name
                    )
                )
                if row is None or name == CHANNEL_CONNECTION_NAME:
                    return None
                using = list(
                    await session.scalars(
                        select(ChannelRow).where(ChannelRow.connection_id == row.id)
                    )
                )
                for channel in using:
                    channel.connection_id = None
                await session.delete(row)
                return len(using)
