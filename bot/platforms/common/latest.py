"""Which reply in each channel its buttons act on: the bot's last finished reply there.

The service keeps one last reply per channel, so Regenerate, the swipes and Continue
under an older reply would act on a newer one: they are refused instead; Stop acts from
anywhere. Kept in the shared state (the database), so a press handled by another process,
or after a restart, is judged alike. (Not read from the messages table: a stored reply
does not know the platform's ids of the messages that show it, which are known only once
it is settled on the platform, after the turn is stored.) When nothing is known (never
recorded, or its entry expired) every button acts on the service's stored last reply.

Platforms' message ids grow within a channel (Telegram's per chat, Discord's snowflakes),
and a channel's turns run one at a time, so the latest finished reply is the one with the
greatest id, and a press under a newer message than the one recorded acts.
"""

from __future__ import annotations

import logging

from bot.core.domain import ChannelKey
from bot.core.errors import StorageError
from bot.core.shared_state import SharedState
from bot.platforms.common.button_presses import ButtonPress

_log = logging.getLogger(__name__)

OLD_BUTTON = "These buttons work on my latest reply; use the ones under it."
KIND = "latest_reply"
REMEMBER_SECONDS = 30 * 24 * 3600
"""How long a channel's latest reply is known; a month-old reply's buttons all act then."""


class LatestReplies:
    """Per channel, the platform's id of the last message of the last finished reply."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def record(self, channel: ChannelKey, message_id: int) -> None:
        """A reply in `channel` finished in `message_id`: its buttons are the live ones.
        A database that refuses is logged: the reply is shown already, and an older
        reply's buttons then still act."""
        try:
            await self._state.put(KIND, str(channel), str(message_id), ttl=REMEMBER_SECONDS)
        except StorageError as exc:
            _log.warning("could not record a channel's latest reply (%s)", exc)

    async def forget(self, channel: ChannelKey) -> None:
        """The channel's history is gone (/forget): so is what its latest reply was."""
        await self._state.delete(KIND, str(channel))

    async def acts_on(self, channel: ChannelKey, message_id: int, press: ButtonPress) -> bool:
        """Whether a button pressed under `message_id` may act (else: OLD_BUTTON). A
        database that cannot be read lets it act, as when no reply is known."""
        if press.acts_anywhere:
            return True
        try:
            latest = await self._state.get(KIND, str(channel))
        except StorageError as exc:
            _log.warning("could not read a channel's latest reply (%s)", exc)
            return True
        if latest is None or not latest.isdigit():
            return True
        # Newer than the latest known: a reply just settled whose record is still on its
        # way (the press was that quick), or one a newer process's record will name.
        return message_id >= int(latest)
