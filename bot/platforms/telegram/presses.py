"""Presses on Telegram: a reply's buttons (what they do is common/press_routing.py's; here
are Telegram's ways to answer), the model picker, and the Stop under a private chat's
streaming draft. Kept apart so the adapter only wires PTB.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable

from telegram import Bot, CallbackQuery, Message, Update
from telegram.ext import ContextTypes

from bot.core.domain import Actor, ChannelKey, CommandCall, CommandResult, Permission
from bot.core.ports import Conversations
from bot.platforms.common.access import AccessGate, Refusal
from bot.platforms.common.confirmations import Press, confirm, read_confirmation
from bot.platforms.common.heading import headed
from bot.platforms.common.latest import OLD_BUTTON
from bot.platforms.common.press_routing import PressRouter
from bot.platforms.telegram.access import group_refusal, permission_of
from bot.platforms.telegram.addressing import place_of
from bot.platforms.telegram.buttons import read_button
from bot.platforms.telegram.outbox import Outbox, channel_of, server_of
from bot.platforms.telegram.picker import PickerPress, chosen, picker, read_picker
from bot.platforms.telegram.replier import Place, TelegramReplier

STOPPED = "stopped_message_generation"
"""The update a draft's Stop button sends (Bot API 10.3; PTB keeps it in api_kwargs)."""
TOAST_CHARS = 200
"""Telegram shows at most 200 characters in a callback query's answer."""

NewReplier = Callable[[Place], Awaitable[TelegramReplier]]
"""The adapter's replier for a new streamed reply into a place."""


class Presses:
    """Hears callback queries and the draft's Stop; a reply's buttons go to the router."""

    def __init__(
        self,
        bot: Bot,
        service: Conversations,
        out: Outbox,
        *,
        router: PressRouter,
        replier: NewReplier,
        operators: frozenset[int],
        gate: AccessGate,
    ) -> None:
        """`gate` turns away whom the operator refuses: told in the press's toast."""
        self._bot = bot
        self._service = service
        self._out = out
        self._router = router
        self._replier = replier
        self._operators = operators
        self._gate = gate

    async def on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None:
            return
        if query.message is not None:
            chat = query.message.chat.id
            refusal = self._gate.refusal(query.from_user.id, chat, private=chat > 0)
            if refusal is None:
                refusal = await self._group_refusal(query, query.message.chat.id)
            if refusal is not None:  # every time: a press must be answered anyway
                await query.answer(refusal.text[:TOAST_CHARS])
                return
        picked = read_picker(query.data)
        if picked is not None and isinstance(query.message, Message):
            await self._on_picker(query, query.message, picked)
            return
        confirming = read_confirmation(query.data)
        if confirming is not None and isinstance(query.message, Message):
            await self._on_confirmation(query, query.message, confirming)
            return
        press = read_button(query.data)
        if press is None or not isinstance(query.message, Message):
            await query.answer(OLD_BUTTON if press is not None else None)
            return
        pressed = TelegramPress(
            query,
            query.message,
            bot=self._bot,
            out=self._out,
            replier=self._replier,
            operators=self._operators,
        )
        await self._router.route(pressed, press)

    async def _group_refusal(self, query: CallbackQuery, chat: int) -> Refusal | None:
        """The group's own rules (/access) for the presser, in the pressed message's topic."""
        if not isinstance(query.message, Message):
            return None
        place = place_of(query.message, quote=False)

        async def rights() -> Permission:
            return await permission_of(
                self._bot, chat, query.from_user.id, operators=self._operators
            )

        rules_of = self._service.server_rules
        return await group_refusal(rules_of, channel_of(place), server_of(place), rights)

    async def on_stopped(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stop tapped under a private chat's streaming draft: stop that chat's reply."""
        stopped = update.api_kwargs.get(STOPPED)
        if not isinstance(stopped, dict) or not isinstance(stopped.get("chat"), dict):
            return
        chat_id = stopped["chat"].get("id")
        if not isinstance(chat_id, int) or chat_id <= 0:
            return
        if self._gate.refusal(chat_id, chat_id, private=True) is not None:
            return  # a refused user has no reply to stop
        thread = stopped.get("message_thread_id")
        place = Place(chat_id, thread if isinstance(thread, int) else None)
        actor = Actor(str(chat_id), "you", Permission.SERVER_ADMIN)  # the chat's own user
        await self._service.run_command(CommandCall("stop", {}, channel_of(place), actor))

    async def _on_confirmation(self, query: CallbackQuery, message: Message, press: Press) -> None:
        """A confirmation's button (/forget): the presser's own answer replaces the prompt;
        anyone else's press is refused in a toast, the button left for its owner."""
        pressed = TelegramPress(
            query,
            message,
            bot=self._bot,
            out=self._out,
            replier=self._replier,
            operators=self._operators,
        )
        await confirm(self._service, pressed, press)

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


class TelegramPress:
    """One press (common.press_routing.Pressed), answered with the callback query's toast."""

    def __init__(
        self,
        query: CallbackQuery,
        message: Message,
        *,
        bot: Bot,
        out: Outbox,
        replier: NewReplier,
        operators: frozenset[int],
    ) -> None:
        self._query = query
        self._message = message
        self._place = place_of(message, quote=False)
        self._bot = bot
        self._out = out
        self._replier = replier
        self._operators = operators

    @property
    def channel(self) -> ChannelKey:
        return channel_of(self._place)

    @property
    def message_id(self) -> int:
        return self._message.message_id

    @property
    def server(self) -> str | None:
        return server_of(self._place)

    async def presser(self) -> Actor:
        user = self._query.from_user
        rights = await permission_of(
            self._bot, self._place.chat_id, user.id, operators=self._operators
        )
        return Actor(str(user.id), user.full_name, rights)

    async def replier(self) -> TelegramReplier:
        return await self._replier(self._place)

    async def acknowledge(self) -> None:
        await self._query.answer()

    async def tell(self, text: str) -> None:
        await self._query.answer(text[:TOAST_CHARS])

    async def show_version(self, result: CommandResult) -> None:
        """In the pressed message; in a group headed by the character's name."""
        await self._query.answer()
        speaker = result.speaker if self._place.in_group else None
        await self._out.replace(self._place, self.message_id, headed(result.text, speaker))

    async def answer(self, result: CommandResult) -> None:
        """Stop's "Stopped.", or why a command could not run: a toast for the presser."""
        await self._query.answer(result.text[:TOAST_CHARS])

    async def close(self, text: str) -> None:
        """A confirmation's outcome, in place of its prompt, the button gone."""
        await self._query.answer()
        await self._out.replace(self._place, self.message_id, text, keyboard=None)
