"""Chat apps let people edit and delete what they wrote; the history follows.

A message is found by the platform's id for it among the newest messages of the
channel's current chat: edits and deletions of very old messages (past SEARCH_DEPTH) or
of archived chats change nothing, which is what a user who reset the chat expects.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.core.domain import ChannelKey, Role
from bot.storage.rows import channel_is
from bot.storage.tables import ChannelRow, MessageRow, utcnow
from bot.storage.transactions import Transactions, translating

SEARCH_DEPTH = 500


class UserMessageStore(Transactions):
    """The part of `SqlStore` that follows a member's edits and deletions into the history."""

    async def edit_user_message(
        self, channel: ChannelKey, platform_message_id: str, content: str
    ) -> bool:
        """Replace the text of a stored user message; False if it is not in the chat."""
        with translating("update an edited message"):
            async with self.writing() as session:
                row = await _find(session, channel, platform_message_id)
                if row is None:
                    return False
                row.content = content
                row.token_count, row.token_counter = None, None
                row.updated_at = utcnow()
                return True

    async def forget_user_message(self, channel: ChannelKey, platform_message_id: str) -> bool:
        """Remove a deleted user message from the history; False if it is not in the chat."""
        with translating("forget a deleted message"):
            async with self.writing() as session:
                row = await _find(session, channel, platform_message_id)
                if row is None:
                    return False
                await session.delete(row)
                return True


async def _find(
    session: AsyncSession, channel: ChannelKey, platform_message_id: str
) -> MessageRow | None:
    chat_id = await session.scalar(select(ChannelRow.current_chat_id).where(channel_is(channel)))
    if chat_id is None:
        return None
    newest = (
        select(MessageRow)
        .where(MessageRow.chat_id == chat_id, MessageRow.role == Role.USER.value)
        .order_by(MessageRow.id.desc())
        .limit(SEARCH_DEPTH)
        .with_for_update()
    )
    for row in await session.scalars(newest):
        if platform_message_id in (row.platform_message_ids or ()):
            return row
    return None
