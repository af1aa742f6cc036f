"""Transactions shared by the store's parts: sessions, the channel lock, error translation.

SQLite runs writes in BEGIN IMMEDIATE (set up in db.py); reads never wait for a writer.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.domain import ChannelKey
from bot.core.errors import StorageError
from bot.storage.db import READ_ONLY_OPTION, write_lock
from bot.storage.rows import channel_is
from bot.storage.secrets import SecretBox
from bot.storage.tables import ChannelRow, ChatRow

_log = logging.getLogger(__name__)


class Transactions:
    """Sessions for reading and writing, and the key box; the base of each store part."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        secret_box: SecretBox | None,
    ) -> None:
        self._sessions = sessions
        self._secret_box = secret_box
        self._write_lock: AbstractAsyncContextManager[object] = (
            write_lock(sessions) or nullcontext()
        )

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        async with self._sessions(execution_options={READ_ONLY_OPTION: True}) as session:
            yield session

    @asynccontextmanager
    async def writing(self) -> AsyncIterator[AsyncSession]:
        """One transaction: committed when the block ends, rolled back if it raises.

        On SQLite it first waits its turn for the process's write lock (`db.write_lock`),
        so a block must never open another `writing()` inside itself.
        """
        async with self._write_lock, self._sessions() as session, session.begin():
            yield session


async def lock_channel(session: AsyncSession, key: ChannelKey) -> ChannelRow:
    """The channel's row, locked for this transaction; created with its first chat if new.

    Two processes may both see no row and both insert: the loser's insert fails on
    the unique (platform, external_id) inside a savepoint, and it takes the winner's row.
    """
    locked = select(ChannelRow).where(channel_is(key)).with_for_update()
    channel = await session.scalar(locked)
    if channel is not None:
        return channel
    try:
        async with session.begin_nested():
            channel = ChannelRow(platform=key.platform, external_id=key.external_id)
            session.add(channel)
            await session.flush()
            chat = ChatRow(channel_id=channel.id)
            session.add(chat)
            await session.flush()
            channel.current_chat_id = chat.id
            await session.flush()
    except IntegrityError:
        _log.debug("channel %s was created concurrently; using that row", key)
        channel = await session.scalar(locked)
        if channel is None:
            raise
    else:
        _log.info("new channel %s", key)
    return channel


async def lock_settings(session: AsyncSession, key: ChannelKey) -> ChannelRow:
    """The row that holds `key`'s settings, locked: a thread's parent, else the channel's.

    Every write of a setting goes through here, so a setting changed in a thread changes
    its channel, and with it every sibling thread.
    """
    return await lock_channel(session, key.settings_key)


@contextmanager
def translating(action: str) -> Iterator[None]:
    """Database and driver failures become `StorageError` naming only what we tried.

    The driver's text may quote SQL or values (what people wrote), so it stays out of the
    message and goes to the log at DEBUG only, never at INFO or above.
    """
    try:
        yield
    except (SQLAlchemyError, OSError) as exc:
        _log.debug("the database could not %s: %s: %s", action, type(exc).__name__, exc)
        raise StorageError(
            f"The database could not {action} ({type(exc).__name__}). "
            "The details are in the bot's log at LOG_LEVEL=DEBUG."
        ) from exc
