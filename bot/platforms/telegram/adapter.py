"""Telegram on python-telegram-bot: updates in, the conversation service, replies out.

PTB runs inside our event loop (initialize/start/stop, never `run_polling`), so Discord
can share the loop. Updates are handled concurrently; the service's per-channel queue
keeps each chat's messages in order. Every write to a chat passes the chat's budget in
`Pacing`, the one the reply streams use, so command answers and streams never add up to
more than Telegram allows.
"""

from __future__ import annotations

import dataclasses
import logging
from types import TracebackType

from telegram import (
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Chat,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import TelegramError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.domain import (
    Actor,
    ChannelKey,
    CommandCall,
    Incoming,
    Permission,
    PlatformLimits,
)
from bot.errors import DeliveryError
from bot.pacing import Pacing
from bot.platforms.command_syntax import parse_command
from bot.platforms.telegram.access import is_anonymous_admin, permission_of
from bot.platforms.telegram.buttons import AFTER_REPLY, STOP, read_button
from bot.platforms.telegram.key_flow import KeyFlow
from bot.platforms.telegram.keys import KeyLinks, carries_secret
from bot.platforms.telegram.menu import bot_commands
from bot.platforms.telegram.render import render
from bot.platforms.telegram.replier import Place, TelegramReplier
from bot.service.conversation import REWRITING_COMMANDS, ConversationService

_log = logging.getLogger(__name__)

PLATFORM = "telegram"
START_TEXT = (
    "Hi! I'm Parlor: I pass your messages to a language model and stream its answers "
    "back.\n\nIn a private chat I answer everything you write; in a group, mention me or "
    "reply to me. Admins set me up with /connect (the model's address), /model and "
    "/character. /help lists every command."
)
_ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
TOAST_CHARS = 200
"""Telegram shows at most 200 characters in a callback query's answer."""


class TelegramAdapter:
    """Open with `async with`: polls until closed."""

    def __init__(
        self,
        service: ConversationService,
        *,
        token: str,
        pacing: Pacing,
        api_url: str | None = None,
        operators: frozenset[int] = frozenset(),
    ) -> None:
        self._service = service
        self._pacing = pacing
        self._operators = operators
        self._no_drafts: set[int] = set()  # private chats where drafts were refused
        builder = ApplicationBuilder().token(token).concurrent_updates(True)
        if api_url:
            root = api_url.rstrip("/").removesuffix("/bot")  # either form is accepted
            builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
        self._app = builder.build()
        self._keys = KeyFlow(
            self._app.bot,
            service,
            KeyLinks(pacing.clock),
            lambda chat_id, text: self._say(Place(chat_id), text),
            operators=operators,
        )
        self._app.add_handler(MessageHandler(filters.COMMAND, self._on_command))
        chat = (filters.TEXT | filters.PHOTO | filters.CAPTION) & ~filters.COMMAND
        self._app.add_handler(MessageHandler(chat & filters.UpdateType.MESSAGE, self._on_message))
        self._app.add_handler(CallbackQueryHandler(self._on_button))
        self._app.add_error_handler(self._on_error)

    async def __aenter__(self) -> TelegramAdapter:
        await self._app.initialize()
        commands = bot_commands()
        for scope in (BotCommandScopeAllPrivateChats(), BotCommandScopeAllGroupChats()):
            await self._app.bot.set_my_commands(commands, scope=scope)
        await self._app.start()
        assert self._app.updater is not None
        await self._app.updater.start_polling(allowed_updates=_ALLOWED_UPDATES)
        _log.info("telegram: polling as @%s", self._app.bot.username)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._app.updater is not None and self._app.updater.running:
            await self._app.updater.stop()
        if self._app.running:
            await self._app.stop()
        await self._app.shutdown()

    # Updates

    async def _on_message(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.from_user is None:
            return
        if await self._keys.receive(message):
            return  # an API key, taken and deleted: never a chat message
        if not self._addressed(message):
            return
        text = self._without_mention(message.text or message.caption or "").strip()
        if not text:
            return
        channel, place = self._where(message)
        incoming = Incoming(
            channel=channel,
            author_id=str(message.from_user.id),
            author_name=message.from_user.full_name,
            text=text,
            platform_message_id=str(message.message_id),
        )
        replier = self._replier(place)
        await self._service.handle(incoming, replier)
        await replier.close(AFTER_REPLY)

    async def _on_command(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.text is None:
            return
        name, options = parse_command(message.text)
        if not self._for_us(message.text):
            return
        group = message.chat.type != Chat.PRIVATE
        if name == "start":
            token = message.text.split(maxsplit=1)[1:]
            if token and not group:
                await self._keys.start(message, token[0].strip())
            else:
                await self._answer(message, START_TEXT)
            return
        channel, _ = self._where(message)
        if group and carries_secret(options):
            await self._keys.refuse_in_group(message, channel, options)
            return
        call = await self._call(message, name, options)
        if call is None:
            return
        if name in REWRITING_COMMANDS:
            replier = self._replier(self._where(message)[1])
            await self._service.rewrite(call, replier)
            await replier.close(AFTER_REPLY)
            return
        result = await self._service.run_command(call)
        text = result.text
        if result.speaker and group:
            text = f"**{result.speaker}:** {text}"
        if group and name == "connect" and call.actor.permission >= Permission.SERVER_ADMIN:
            link = self._keys.offer(message, channel, options)
            if link is not None:
                text += f"\n\nTo add an API key, send it to me privately: {link}"
        await self._answer(message, text)

    async def _on_button(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        if query is None or query.message is None or not isinstance(query.message, Message):
            return
        press = read_button(query.data)
        if press is None:
            await query.answer()
            return
        message = query.message
        rights = await permission_of(
            self._app.bot, message.chat.id, query.from_user.id, operators=self._operators
        )
        actor = Actor(str(query.from_user.id), query.from_user.full_name, rights)
        channel, place = self._where(message)
        call = CommandCall(press.command, press.options, channel, actor)
        if press.command in REWRITING_COMMANDS:
            await query.answer()
            replier = self._replier(dataclasses.replace(place, reply_to=None))
            await self._service.rewrite(call, replier)
            await replier.close(AFTER_REPLY)
            return
        result = await self._service.run_command(call)
        if press.command == "swipe" and not result.ephemeral:
            await query.answer()
            await self._show_swipe(message, result.text, place)
        else:  # Stop's "Stopped.", or why it could not: a toast for the presser only
            await query.answer(result.text[:TOAST_CHARS])

    async def _show_swipe(self, message: Message, text: str, place: Place) -> None:
        """The chosen version replaces the reply in place, buttons kept: the chat reads as
        the model remembers it."""
        await self._spend(place, self._replier(place).limits)
        rendered = render(text)
        try:
            await self._app.bot.edit_message_text(
                rendered.text,
                message.chat.id,
                message.message_id,
                entities=list(rendered.entities),
                reply_markup=AFTER_REPLY,
            )
        except TelegramError as exc:
            _log.warning("telegram: could not show another version (%s)", exc)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if isinstance(error, DeliveryError | TelegramError):
            _log.warning("telegram: could not deliver (%s)", error)
            return
        _log.error("telegram: an update failed", exc_info=error)

    # Helpers

    def _addressed(self, message: Message) -> bool:
        """Private chats: every message. Groups: a mention of the bot or a reply to it."""
        if message.chat.type == Chat.PRIVATE:
            return True
        replied = message.reply_to_message
        if replied is not None and replied.from_user is not None:
            return replied.from_user.id == self._app.bot.id or self._mentioned(message)
        return self._mentioned(message)

    def _mentioned(self, message: Message) -> bool:
        username = self._app.bot.username
        text = message.text or message.caption or ""
        return bool(username) and f"@{username}".lower() in text.lower()

    def _for_us(self, text: str) -> bool:
        """A command addressed to another bot (`/help@other_bot`) is not ours."""
        head = text.split(maxsplit=1)[0] if text.split() else ""
        _, at, target = head.partition("@")
        return not at or target.lower() == (self._app.bot.username or "").lower()

    def _without_mention(self, text: str) -> str:
        username = self._app.bot.username
        if not username:
            return text
        mention = f"@{username}"
        index = text.lower().find(mention.lower())
        while index >= 0:
            text = text[:index] + text[index + len(mention) :]
            index = text.lower().find(mention.lower())
        return text

    def _where(self, message: Message) -> tuple[ChannelKey, Place]:
        """Forum topics are channels of their own; replies in groups quote the message."""
        chat_id = message.chat.id
        thread = message.message_thread_id if message.is_topic_message else None
        channel_id = f"{chat_id}:{thread}" if thread is not None else str(chat_id)
        group = message.chat.type != Chat.PRIVATE
        place = Place(chat_id, thread, message.message_id if group else None)
        return ChannelKey(PLATFORM, channel_id), place

    async def _call(
        self, message: Message, name: str, options: dict[str, str]
    ) -> CommandCall | None:
        channel, _ = self._where(message)
        if is_anonymous_admin(message):
            title = message.chat.title or "admin"
            actor = Actor(str(message.chat.id), title, Permission.CHANNEL_ADMIN)
        elif message.from_user is not None:
            user = message.from_user
            rights = await permission_of(
                self._app.bot, message.chat.id, user.id, operators=self._operators
            )
            actor = Actor(str(user.id), user.full_name, rights)
        else:
            return None
        server = str(message.chat.id) if message.chat.type != Chat.PRIVATE else None
        return CommandCall(name, options, channel, actor, server=server)

    def _replier(
        self, place: Place, keyboard: InlineKeyboardMarkup | None = STOP
    ) -> TelegramReplier:
        channel_limits: PlatformLimits | None = None
        drafts = place.chat_id > 0 and place.chat_id not in self._no_drafts

        async def pace() -> None:
            assert channel_limits is not None
            await self._spend(place, channel_limits)

        replier = TelegramReplier(
            self._app.bot,
            place,
            drafts=drafts,
            pace=pace,
            keyboard=keyboard,
            on_drafts_refused=lambda: self._no_drafts.add(place.chat_id),
        )
        channel_limits = replier.limits
        return replier

    async def _spend(self, place: Place, limits: PlatformLimits) -> None:
        channel = ChannelKey(PLATFORM, _channel_id(place))
        budget = self._pacing.budget_for(channel, limits)
        clock = self._pacing.clock
        while (delay := budget.delay_until_available(clock.now())) > 0:
            await clock.sleep(delay)
        budget.take(clock.now())

    async def _answer(self, message: Message, text: str) -> None:
        _, place = self._where(message)
        await self._say(place, text)

    async def _say(self, place: Place, text: str) -> None:
        """One paced message; a command's answer is never streamed."""
        replier = self._replier(place, keyboard=None)
        await self._spend(place, replier.limits)
        rendered = render(text)
        try:
            await self._app.bot.send_message(
                place.chat_id,
                rendered.text,
                entities=list(rendered.entities),
                message_thread_id=place.thread_id,
            )
        except TelegramError as exc:
            _log.warning("telegram: could not answer a command (%s)", exc)


def _channel_id(place: Place) -> str:
    if place.thread_id is None:
        return str(place.chat_id)
    return f"{place.chat_id}:{place.thread_id}"
