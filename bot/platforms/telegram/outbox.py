"""Everything the bot writes to a Telegram chat, each write through the chat's budget.

Streams spend the budget in ReplyStream; answers, files, swipes and the writes a reply
makes after its stream (drafts settled, buttons changed) spend it here. One budget per
chat (per forum topic) in the shared `Pacing`, so together they never exceed what
Telegram allows, and a 429 in one chat pauses only that chat.
"""

from __future__ import annotations

import logging

from telegram import Bot, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.error import TelegramError

from bot.domain import Attachment, ChannelKey
from bot.pacing import Pacing
from bot.platforms.telegram.buttons import AFTER_REPLY, STOP
from bot.platforms.telegram.render import render
from bot.platforms.telegram.replier import GROUP_LIMITS, PRIVATE_LIMITS, Place, TelegramReplier
from bot.text import split_for_limit

_log = logging.getLogger(__name__)

PLATFORM = "telegram"


def channel_of(place: Place) -> ChannelKey:
    """Forum topics are channels of their own."""
    if place.thread_id is None:
        return ChannelKey(PLATFORM, str(place.chat_id))
    return ChannelKey(PLATFORM, f"{place.chat_id}:{place.thread_id}")


class Outbox:
    def __init__(self, bot: Bot, pacing: Pacing) -> None:
        self._bot = bot
        self._pacing = pacing
        self._no_drafts: set[int] = set()  # private chats where drafts were refused

    def replier(self, place: Place, *, speaker: str | None = None) -> TelegramReplier:
        """A replier for one streamed reply, with Stop under it while it streams."""
        chat_id = place.chat_id

        async def pace() -> None:
            await self.spend(place)

        return TelegramReplier(
            self._bot,
            place,
            drafts=chat_id > 0 and chat_id not in self._no_drafts,
            pace=pace,
            keyboard=STOP,
            on_drafts_refused=lambda: self._no_drafts.add(chat_id),
            speaker=speaker,
        )

    async def spend(self, place: Place) -> None:
        """Wait for, and take, one write of the chat's budget."""
        limits = PRIVATE_LIMITS if place.chat_id > 0 else GROUP_LIMITS
        budget = self._pacing.budget_for(channel_of(place), limits)
        clock = self._pacing.clock
        while (delay := budget.delay_until_available(clock.now())) > 0:
            await clock.sleep(delay)
        budget.take(clock.now())

    async def say(self, place: Place, text: str) -> None:
        """An answer: never streamed, split where it is too long."""
        limits = PRIVATE_LIMITS if place.chat_id > 0 else GROUP_LIMITS
        for part in split_for_limit(text, limits.max_length, measure=limits.measure):
            await self.spend(place)
            rendered = render(part)
            try:
                await self._bot.send_message(
                    place.chat_id,
                    rendered.text,
                    entities=list(rendered.entities),
                    message_thread_id=place.thread_id,
                    reply_parameters=_reply_to(place),
                )
            except TelegramError as exc:
                _log.warning("telegram: could not answer (%s)", exc)
                return

    async def send_file(self, place: Place, file: Attachment) -> None:
        await self.spend(place)
        try:
            await self._bot.send_document(
                place.chat_id,
                InputFile(file.data, filename=file.filename),
                message_thread_id=place.thread_id,
            )
        except TelegramError as exc:
            _log.warning("telegram: could not send a file (%s)", exc)
            await self.say(place, "Telegram refused the file; try again in a moment.")

    async def replace(self, place: Place, message_id: int, text: str) -> None:
        """Show another version of a finished reply in its message, buttons kept."""
        await self.spend(place)
        rendered = render(text)
        keyboard: InlineKeyboardMarkup = AFTER_REPLY
        try:
            await self._bot.edit_message_text(
                rendered.text,
                place.chat_id,
                message_id,
                entities=list(rendered.entities),
                reply_markup=keyboard,
            )
        except TelegramError as exc:
            _log.warning("telegram: could not show another version (%s)", exc)


def _reply_to(place: Place) -> ReplyParameters | None:
    if place.reply_to is None:
        return None
    return ReplyParameters(place.reply_to, allow_sending_without_reply=True)
