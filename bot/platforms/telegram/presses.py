"""What a press does on Telegram: a reply's buttons, the model picker, and the Stop under
a private chat's streaming draft. Kept apart so the adapter only wires PTB; the buttons
act on the chat's latest reply only (after a restart, the service's stored last reply).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from telegram import Bot, CallbackQuery, Message, Update
from telegram.ext import ContextTypes

from bot.core.commands import streams
from bot.core.domain import Actor, CommandCall, Permission
from bot.core.ports import Conversations
from bot.platforms.common.heading import headed
from bot.platforms.common.latest import OLD_BUTTON, LatestReplies
from bot.platforms.telegram.access import permission_of
from bot.platforms.telegram.addressing import place_of
from bot.platforms.telegram.buttons import read_button
from bot.platforms.telegram.outbox import Outbox, channel_of
from bot.platforms.telegram.picker import PickerPress, chosen, picker, read_picker
from bot.platforms.telegram.replier import Place

STOPPED = "stopped_message_generation"
"""The update a draft's Stop button sends (Bot API 10.3; PTB keeps it in api_kwargs)."""
TOAST_CHARS = 200
"""Telegram shows at most 200 characters in a callback query's answer."""

Rewrite = Callable[[Place, CommandCall], Awaitable[None]]
"""The adapter's streamed command reply into a place."""


class Presses:
    def __init__(
        self,
        bot: Bot,
        service: Conversations,
        out: Outbox,
        *,
        latest: LatestReplies,
        rewrite: Rewrite,
        operators: frozenset[int],
    ) -> None:
        """`latest` says which reply's buttons act, kept by whoever streams replies."""
        self._bot = bot
        self._service = service
        self._out = out
        self._latest = latest
        self._rewrite = rewrite
        self._operators = operators

    async def on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        picked = read_picker(query.data)
        if picked is not None and isinstance(query.message, Message):
            await self._on_picker(query, query.message, picked)
            return
        press = read_button(query.data)
        if press is None or not isinstance(query.message, Message):
            await query.answer(OLD_BUTTON if press is not None else None)
            return
        message = query.message
        place = place_of(message, quote=False)
        if not self._latest.acts_on(channel_of(place), message.message_id, press):
            await query.answer(OLD_BUTTON)
            return
        rights = await permission_of(
            self._bot, message.chat.id, query.from_user.id, operators=self._operators
        )
        actor = Actor(str(query.from_user.id), query.from_user.full_name, rights)
        call = CommandCall(press.command, press.options, channel_of(place), actor)
        if streams(press.command):
            await query.answer()
            await self._rewrite(place, call)
            return
        result = await self._service.run_command(call)
        if press.command == "swipe" and not result.ephemeral:
            await query.answer()
            speaker = result.speaker if place.chat_id < 0 else None
            await self._out.replace(place, message.message_id, headed(result.text, speaker))
        else:  # Stop's "Stopped.", or why it could not: a toast for the presser only
            await query.answer(result.text[:TOAST_CHARS])

    async def on_stopped(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop tapped under a private chat's streaming draft: stop that chat's reply."""
        stopped = update.api_kwargs.get(STOPPED)
        if not isinstance(stopped, dict) or not isinstance(stopped.get("chat"), dict):
            return
        chat_id = stopped["chat"].get("id")
        if not isinstance(chat_id, int) or chat_id <= 0:
            return
        thread = stopped.get("message_thread_id")
        place = Place(chat_id, thread if isinstance(thread, int) else None)
        actor = Actor(str(chat_id), "you", Permission.SERVER_ADMIN)  # the chat's own user
        await self._service.run_command(CommandCall("stop", {}, channel_of(place), actor))

    async def _on_picker(self, query: CallbackQuery, message: Message, press: PickerPress) -> None:
        """A page of the model picker, or a model chosen from it (by an admin: the service
        checks the presser's rights like for a typed /model)."""
        rights = await permission_of(
            self._bot, message.chat.id, query.from_user.id, operators=self._operators
        )
        actor = Actor(str(query.from_user.id), query.from_user.full_name, rights)
        place = place_of(message, quote=False)
        call = CommandCall("model", {}, channel_of(place), actor)
        models = await self._service.suggestions.model_ids(call)
        if press.page is not None:
            await query.answer()
            await self._out.set_buttons(place, message.message_id, picker(models, press.page))
            return
        model = chosen(models, press)
        if model is None:
            await query.answer("The model list changed; run /model again.")
            return
        if rights < Permission.CHANNEL_ADMIN:
            await query.answer("Only the chat's admins can choose the model.")
            return
        result = await self._service.run_command(dataclasses.replace(call, options={"name": model}))
        await query.answer()
        await self._out.replace(place, message.message_id, result.text, keyboard=None)
