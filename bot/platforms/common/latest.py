"""Which reply in each channel its buttons act on: the bot's last finished reply there.

The service keeps one last reply per channel, so Regenerate, the swipes and Continue
under an older reply would act on a newer one: they are refused instead; Stop acts from
anywhere. Kept in memory: after a restart no reply is known, and every button acts on
the service's stored last reply.
"""

from __future__ import annotations

from bot.core.domain import ChannelKey
from bot.platforms.common.button_presses import ButtonPress

OLD_BUTTON = "These buttons work on my latest reply; use the ones under it."


class LatestReplies:
    """Per channel, the platform's id of the last message of the last finished reply."""

    def __init__(self) -> None:
        self._by_channel: dict[ChannelKey, int] = {}

    def record(self, channel: ChannelKey, message_id: int) -> None:
        """A reply in `channel` finished in `message_id`: its buttons are the live ones."""
        self._by_channel[channel] = message_id

    def acts_on(self, channel: ChannelKey, message_id: int, press: ButtonPress) -> bool:
        """Whether a button pressed under `message_id` may act (else: OLD_BUTTON)."""
        if press.acts_anywhere:
            return True
        latest = self._by_channel.get(channel)
        return latest is None or latest == message_id
