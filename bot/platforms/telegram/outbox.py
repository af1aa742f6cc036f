"""Everything the bot writes to a Telegram chat, each write through the chat's budget.

Streams spend the budget in ReplyStream; answers, files, swipes and the writes a reply
makes after its stream (drafts settled, buttons changed) spend it here. One budget per
chat in the shared `Pacing` (a forum's topics spend their group's, as Telegram counts
them), so together they never exceed what Telegram allows, and a 429 in one chat pauses
only that chat.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, InlineKeyboardMarkup, InputFile, ReplyParameters
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.core.domain import Attachment, ChannelKey
from bot.core.errors import DeliveryError, StorageError
from bot.core.shared_state import SharedState
from bot.platforms.telegram.buttons import AFTER_REPLY, STOP
from bot.platforms.telegram.delivery import delivery_error, is_not_modified
from bot.platforms.telegram.render import Rendered, render
from bot.platforms.telegram.replier import Place, TelegramReplier
from bot.reply.pacing import ChannelBudget, Pacing, write_paced
from bot.reply.text import split_for_limit

_log = logging.getLogger(__name__)

PLATFORM = "telegram"
NO_DRAFTS_KIND = "telegram_no_drafts"
NO_DRAFTS_SECONDS = 7 * 24 * 3600
"""How long a private chat that refused drafts is sent and edited instead; then drafts are
tried again (one refusal costs a reply nothing: it falls back at once)."""


def channel_of(place: Place) -> ChannelKey:
    """Forum topics are channels of their own."""
    if place.thread_id is None:
        return ChannelKey(PLATFORM, str(place.chat_id))
    return ChannelKey(PLATFORM, f"{place.chat_id}:{place.thread_id}")


def server_of(place: Place) -> str | None:
    """The group whose profiles and characters the chat shares; None in a private chat."""
    return str(place.chat_id) if place.in_group else None


def budget_scope(channel: ChannelKey) -> ChannelKey:
    """Telegram counts writes per chat: a forum topic spends its group's budget."""
    return ChannelKey(channel.platform, channel.external_id.partition(":")[0])


class Outbox:
    """Every write to a Telegram chat outside a stream, each through the chat's budget."""

    def __init__(self, bot: Bot, pacing: Pacing, *, shared_state: SharedState) -> None:
        """`shared_state` remembers the private chats that refused drafts, for every
        process."""
        self._bot = bot
        self._pacing = pacing
        self._state = shared_state
        self.newest: dict[int, int] = {}
        """Per chat, the bot's newest reply message, even one still being written. Per
        process: it only decides whether a reply to it is quoted to the model, and a
        process that did not write it quotes it, which is harmless."""

    async def replier(self, place: Place, *, speaker: str | None = None) -> TelegramReplier:
        """A replier for one streamed reply, with Stop under it while it streams."""
        chat_id = place.chat_id

        async def refused() -> None:
            await self._remember_no_drafts(chat_id)

        return TelegramReplier(
            self._bot,
            place,
            drafts=not place.in_group and not await self._drafts_refused(chat_id),
            budget=self._budget(place),
            clock=self._pacing.clock,
            keyboard=STOP,
            on_drafts_refused=refused,
            on_sent=lambda message_id: self.newest.__setitem__(chat_id, message_id),
            speaker=speaker,
        )

    async def _drafts_refused(self, chat_id: int) -> bool:
        """Whether the chat refused drafts before (in any process); a database that cannot
        be read tries drafts, which a refusal turns off for the reply at once."""
        try:
            return await self._state.get(NO_DRAFTS_KIND, str(chat_id)) is not None
        except StorageError as exc:
            _log.warning("telegram: could not read whether a chat takes drafts (%s)", exc)
            return False

    async def forget_chat(self, chat_id: int) -> None:
        """/forget: whether the chat took drafts is not kept past its history."""
        await self._state.delete(NO_DRAFTS_KIND, str(chat_id))

    async def _remember_no_drafts(self, chat_id: int) -> None:
        try:
            await self._state.put(NO_DRAFTS_KIND, str(chat_id), "1", ttl=NO_DRAFTS_SECONDS)
        except StorageError as exc:
            _log.warning("telegram: could not remember a chat refusing drafts (%s)", exc)

    def _budget(self, place: Place) -> ChannelBudget:
        return self._pacing.budget_for(channel_of(place), place.limits)

    async def _deliver(
        self, place: Place, write: Callable[[], Awaitable[object]], doing: str
    ) -> bool:
        """One paced write; a flood wait pauses the chat and the write waits it out, a few
        times at most. False when Telegram refused it (logged, never raised): an answer
        refused once is not tried again."""

        async def attempt() -> None:
            try:
                await write()
            except TelegramError as exc:
                raise delivery_error(exc, doing) from None

        budget, clock = self._budget(place), self._pacing.clock
        try:
            await write_paced(attempt, budget=budget, clock=clock, retry_failures=False)
        except DeliveryError as exc:
            _log.warning("telegram: could not deliver (%s)", exc)
            return False
        return True

    async def say(
        self, place: Place, text: str, *, keyboard: InlineKeyboardMarkup | None = None
    ) -> None:
        """An answer: never streamed, split where it is too long; `keyboard` goes under
        its last part."""
        limits = place.limits
        parts = split_for_limit(text, limits.max_length, measure=limits.measure)
        for index, part in enumerate(parts):
            rendered = render(part)
            buttons = keyboard if index == len(parts) - 1 else None

            async def send(
                rendered: Rendered = rendered, buttons: InlineKeyboardMarkup | None = buttons
            ) -> None:
                await self._bot.send_message(
                    place.chat_id,
                    rendered.text,
                    entities=list(rendered.entities),
                    message_thread_id=place.thread_id,
                    reply_parameters=_reply_to(place),
                    reply_markup=buttons,
                )

            if not await self._deliver(place, send, "sending an answer"):
                return

    async def tell_privately(self, user_id: int, text: str) -> None:
        """A short note in the user's private chat, never in a group. Telegram refuses it
        when the user never started the bot, or blocked it: expected, so left at a debug
        line."""

        async def send() -> None:
            try:
                await self._bot.send_message(user_id, text)
            except (Forbidden, BadRequest) as exc:
                _log.debug("telegram: could not tell a user privately (%s)", exc.message)

        await self._deliver(Place(user_id), send, "telling a user privately")

    async def say_privately(
        self, user_id: int, text: str, *, keyboard: InlineKeyboardMarkup | None = None
    ) -> bool:
        """A short answer for one user's eyes, in their private chat; False when it was not
        delivered (they never started the bot, or blocked it), for the caller to answer
        where they asked instead."""
        place = Place(user_id)
        if place.limits.measure(text) > place.limits.max_length:
            return False
        rendered = render(text)
        refused = False

        async def send() -> None:
            nonlocal refused
            try:
                await self._bot.send_message(
                    user_id, rendered.text, entities=list(rendered.entities), reply_markup=keyboard
                )
            except (Forbidden, BadRequest) as exc:
                refused = True
                _log.debug("telegram: could not answer a user privately (%s)", exc.message)

        delivered = await self._deliver(place, send, "answering privately")
        return delivered and not refused

    async def send_file(self, place: Place, file: Attachment) -> None:
        async def send() -> None:
            await self._bot.send_document(
                place.chat_id,
                InputFile(file.data, filename=file.filename),
                message_thread_id=place.thread_id,
            )

        if not await self._deliver(place, send, "sending a file"):
            await self.say(place, "Telegram refused the file; try again in a moment.")

    async def set_buttons(
        self, place: Place, message_id: int, keyboard: InlineKeyboardMarkup | None
    ) -> None:
        async def change() -> None:
            try:
                await self._bot.edit_message_reply_markup(
                    place.chat_id, message_id, reply_markup=keyboard
                )
            except TelegramError as exc:
                if not is_not_modified(exc):
                    raise

        await self._deliver(place, change, "changing the buttons")

    async def replace(
        self,
        place: Place,
        message_id: int,
        text: str,
        *,
        keyboard: InlineKeyboardMarkup | None = AFTER_REPLY,
    ) -> None:
        """Show other text in a message (another version of a reply, a picker's outcome);
        text too long for a single message is sent anew instead."""
        limits = place.limits
        if limits.measure(text) > limits.max_length:
            await self.say(place, text)
            return
        rendered = render(text)

        async def edit() -> None:
            try:
                await self._bot.edit_message_text(
                    rendered.text,
                    place.chat_id,
                    message_id,
                    entities=list(rendered.entities),
                    reply_markup=keyboard,
                )
            except TelegramError as exc:
                if not is_not_modified(exc):
                    raise

        await self._deliver(place, edit, "showing another version")


def _reply_to(place: Place) -> ReplyParameters | None:
    if place.reply_to is None:
        return None
    return ReplyParameters(place.reply_to, allow_sending_without_reply=True)
