"""Telegram on python-telegram-bot: updates in, the conversation service, replies out.

PTB runs inside our event loop (initialize/start/stop, never `run_polling`), so Discord
can share the loop. Updates are handled concurrently; the service's per-channel queue
keeps each chat's messages in order. Every write goes through the Outbox, which spends
the chat's budget in the `Pacing` the reply streams use.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from types import TracebackType

from telegram import (
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import InvalidToken, TelegramError
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.core.commands import find_command, streams, takes_file
from bot.core.domain import Actor, ChannelKey, CommandCall, Incoming, Permission
from bot.core.errors import DeliveryError, PlatformRefused, UsageError
from bot.core.ports import Conversations
from bot.core.shared_state import MemorySharedState, SharedState
from bot.platforms.common.access import (
    EVERYONE,
    AccessGate,
    AccessPolicy,
    Refusal,
    Refused,
    Wording,
)
from bot.platforms.common.command_syntax import parse_command
from bot.platforms.common.heading import headed
from bot.platforms.common.key_shapes import looks_like_key
from bot.platforms.common.press_routing import PressRouter
from bot.platforms.common.streamed_turns import StreamedTurns
from bot.platforms.telegram.access import group_refusal, is_anonymous_admin, permission_of
from bot.platforms.telegram.addressing import Me, place_of
from bot.platforms.telegram.buttons import confirming
from bot.platforms.telegram.files import documents_for_command, files_for_chat
from bot.platforms.telegram.key_flow import KeyFlow
from bot.platforms.telegram.keys import KeyLinks, carries_secret
from bot.platforms.telegram.menu import bot_commands
from bot.platforms.telegram.outbox import PLATFORM, Outbox, channel_of, server_of
from bot.platforms.telegram.picker import picker
from bot.platforms.telegram.presses import STOPPED, Presses
from bot.platforms.telegram.refusals import ReportFatal, WatchedPolls, refused_at_start
from bot.platforms.telegram.replier import Place, TelegramReplier
from bot.platforms.telegram.webhook import (
    Webhook,
    claiming,
    leave_webhook,
    queue_updates,
    set_webhook,
)
from bot.reply.pacing import Pacing

_log = logging.getLogger(__name__)

START_TEXT = (
    "Hi! I'm Parlor: I pass your messages to a language model and stream its answers "
    "back.\n\nIn a private chat I answer everything you write; in a group, mention me or "
    "reply to me. Admins set me up with /connect (the model's address), /model and "
    "/character. /help lists every command."
)
SENT_PRIVATELY = "I've sent you the details privately, with the button that confirms it."
WORDING = Wording(place="chat")
"""How a refusal names Telegram's places (the private text is Telegram's already)."""
_ALLOWED_UPDATES = ["message", "edited_message", "callback_query", STOPPED]
SETTLE_SECONDS = 2.0
"""How long closing waits for updates being handled when no shutdown wound them down first."""
CANCELLED_SETTLE_SECONDS = 0.5
"""How long updates cancelled at shutdown get to settle their replies."""


class TelegramAdapter:
    """Open with `async with`: polls until closed, or with `webhook`, takes the updates
    posted to the listener's webhook route (any number of processes may, behind a balancer).

    A token Telegram refuses at start raises PlatformRefused from `__aenter__`; one
    refused later (revoked, or another process polling) is handed to `on_fatal`, for the
    caller to close this adapter and end the process.
    """

    def __init__(
        self,
        service: Conversations,
        *,
        token: str,
        pacing: Pacing,
        api_url: str | None = None,
        operators: frozenset[int] = frozenset(),
        access: AccessPolicy = EVERYONE,
        on_fatal: ReportFatal | None = None,
        webhook: Webhook | None = None,
        shared_state: SharedState | None = None,
    ) -> None:
        """`access`: who may use the bot in which chats (`operators` are never refused);
        `webhook`: receive updates there instead of polling; `shared_state` keeps key links,
        latest replies, chats without drafts and the webhook updates already claimed for
        every process (None: this process's memory)."""
        self._service = service
        self._operators = operators
        access = dataclasses.replace(access, operators=access.operators | operators)
        self._gate = AccessGate(access, pacing.clock, wording=WORDING)
        self._token = token
        self._polls = WatchedPolls(on_fatal or _log_fatal)
        builder = ApplicationBuilder().token(token).concurrent_updates(True)
        builder = builder.get_updates_request(self._polls)
        self._webhook = webhook
        self._webhook_set = False
        if webhook is not None:
            builder = builder.updater(None)  # no polling: updates come from the listener
        if api_url:
            root = api_url.rstrip("/").removesuffix("/bot")  # either form is accepted
            builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
        self._app = builder.build()
        self._bot = self._app.bot
        self._me = Me(0, "")  # known after initialize()
        shared = shared_state or MemorySharedState()
        self._shared = shared
        self._out = Outbox(self._bot, pacing, shared_state=shared)
        self._turns = StreamedTurns(service, shared_state=shared)
        links = KeyLinks(shared)
        service.when_forgetting(links.forget)  # /forget drops their pending key links
        service.when_forgetting(self._forget_private_chat)
        self._keys = KeyFlow(
            self._bot,
            service,
            links,
            lambda message, text: self._out.say(place_of(message), text),
            operators=operators,
        )
        self._presses = Presses(
            self._bot,
            service,
            self._out,
            router=PressRouter(service, self._turns),
            replier=self._replier,
            operators=operators,
            gate=self._gate,
        )
        new = filters.UpdateType.MESSAGE  # an edited command is not run again
        self._app.add_handler(MessageHandler(filters.COMMAND & new, self._on_command))
        files = filters.PHOTO | filters.Document.ALL
        chat = (filters.TEXT | files | filters.CAPTION) & ~filters.COMMAND
        self._app.add_handler(MessageHandler(chat & new, self._on_message))
        edits = filters.UpdateType.EDITED_MESSAGE & (filters.TEXT | filters.CAPTION)
        self._app.add_handler(MessageHandler(edits, self._on_edit))
        self._app.add_handler(CallbackQueryHandler(self._presses.on_button))
        # Matches what is left: the update a draft's Stop button sends.
        self._app.add_handler(TypeHandler(Update, self._presses.on_stopped))
        self._app.add_error_handler(self._on_error)

    async def __aenter__(self) -> TelegramAdapter:
        try:
            await self._app.initialize()
        except InvalidToken as exc:  # its message carries the token: not chained into ours
            await self._polls.shutdown()
            raise refused_at_start(exc, self._token) from None
        self._me = Me(self._bot.id, self._bot.username)
        commands = bot_commands()
        for scope in (BotCommandScopeAllPrivateChats(), BotCommandScopeAllGroupChats()):
            await self._bot.set_my_commands(commands, scope=scope)
        await self._app.start()
        if self._webhook is not None:
            claim = claiming(
                self._shared, self._bot.id
            )  # each update handled once across the workers
            sink = queue_updates(self._bot, self._app.update_queue, claim=claim)
            self._webhook.receiver.attach(sink)
            try:
                await set_webhook(self._bot, self._webhook, _ALLOWED_UPDATES)
            except PlatformRefused:  # `async with` never closes what failed to open
                await self.__aexit__(None, None, None)
                raise
            self._webhook_set = True
            _log.info("telegram: receiving updates by webhook as @%s", self._me.username)
            return self
        await leave_webhook(self._bot)
        assert self._app.updater is not None
        await self._app.updater.start_polling(allowed_updates=_ALLOWED_UPDATES)
        _log.info("telegram: polling as @%s", self._me.username)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.wind_down()
        await self._app.shutdown()

    async def connected(self) -> bool:
        """Whether the bot is polling and its last poll got an answer, or takes webhook
        updates (for /readyz)."""
        if self._webhook is not None:
            return self._app.running and self._webhook_set
        updater = self._app.updater
        return updater is not None and updater.running and not self._polls.failing

    async def wind_down(self, seconds: float = SETTLE_SECONDS) -> None:
        """Stop polling, and let the updates being handled end, for up to `seconds`, while
        Telegram still answers; cancel those that do not (their replies settle as
        interrupted). Closing does it too; a shutdown does it first, with the time its
        grace has left.

        `Application.stop` alone waits for every update being handled, a whole reply's
        stream included: that made a stop take as long as the longest reply."""
        self._polls.stopping = True
        if self._webhook is not None:  # the listener answers 503: Telegram sends it elsewhere
            self._webhook.receiver.attach(None)
        if self._app.updater is not None and self._app.updater.running:
            await self._app.updater.stop()
        if not self._app.running:
            return
        stopping = asyncio.ensure_future(self._app.stop())
        done, _ = await asyncio.wait({stopping}, timeout=seconds)
        if not done:
            handling = [
                task
                for task in asyncio.all_tasks()
                if task.get_name().endswith(":process_concurrent_update") and not task.done()
            ]
            for task in handling:  # PTB names the task of each update it handles so
                task.cancel()
            _log.info("telegram: %d updates were cut short at shutdown", len(handling))
            done, _ = await asyncio.wait({stopping}, timeout=CANCELLED_SETTLE_SECONDS)
        if done:
            stopping.result()
        else:
            _log.warning("telegram: updates still being handled were left at shutdown")

    async def _forget_private_chat(self, platform: str, user_id: str) -> int:
        """/forget target:me erases their private chat (whose id is theirs): what the shared
        state holds about it goes too. Not counted: the chat's own count says it."""
        if platform == PLATFORM and user_id.isdigit():
            await self._out.forget_chat(int(user_id))
            await self._turns.latest.forget(ChannelKey(PLATFORM, user_id))
        return 0

    # Updates

    async def _on_message(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is None or message.from_user is None:
            return
        user = message.from_user.id
        refusal = self._refusal(message, user)
        if refusal is not None and message.chat.id > 0 and await self._keys.expects_key(user):
            refusal = self._refusal(message, user, key_flow=True)  # the awaited key
        if refusal is not None:
            if self._me.addressed(message):
                await self._turn_away(user, refusal)
            return
        if await self._handled_apart(message):
            return
        place = place_of(message)
        if not await self._taken(message, place):
            return
        text = self._me.text_of(message, latest_reply=self._out.newest.get(place.chat_id))
        try:
            files = await files_for_chat(self._bot, message)
        except UsageError as exc:
            await self._out.say(place, str(exc))
            return
        if not text and not files:
            return
        incoming = Incoming(
            channel=channel_of(place),
            author_id=str(message.from_user.id),
            author_name=message.from_user.full_name,
            text=text,
            platform_message_id=str(message.message_id),
            attachments=files,
            server=server_of(place),
        )
        await self._turns.reply(incoming, await self._replier(place))

    async def _handled_apart(self, message: Message) -> bool:
        """Messages that are not chat: the key someone was asked for, a command in a file's
        caption, and anything shaped like a key, which never reaches the model."""
        if await self._keys.receive(message):
            return True
        if (message.caption or "").startswith("/"):
            await self._command(message, message.caption or "")
            return True
        if looks_like_key(message.text or message.caption or ""):
            await self._keys.refuse_stray(message)
            return True
        return False

    async def _on_edit(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        """An edited message changes the stored turn; it is not answered again."""
        message = update.edited_message
        if message is None or (message.text or message.caption or "").startswith("/"):
            return
        user = message.from_user
        if user is not None and self._refusal(message, user.id) is not None:
            return  # its message was never taken in
        place = place_of(message)
        text = self._me.text_of(message, latest_reply=self._out.newest.get(place.chat_id))
        if looks_like_key(text):  # edited into a key: out of the history, off the screen
            await self._service.deleted(channel_of(place), str(message.message_id))
            await self._keys.refuse_stray(message)
        elif text:
            await self._service.edited(channel_of(place), str(message.message_id), text)

    async def _on_command(self, update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        if message is not None and message.text is not None:
            await self._command(message, message.text)

    async def _command(self, message: Message, line: str) -> None:
        name, options = parse_command(line)
        place = place_of(message)
        group = place.in_group
        if await self._command_refused(message, name, line):
            return
        if group and (carries_secret(options) or looks_like_key(line)):
            await self._keys.refuse_in_group(message, name, channel_of(place), options)
            return  # whichever bot it was for: a key in a group is never left standing
        if not self._me.commands_me(line) or (group and not self._knows(name, line)):
            return
        if name == "start":
            token = line.split(maxsplit=1)[1:]
            if token and not group:
                await self._keys.start(message, token[0].strip())
            else:
                await self._out.say(place, START_TEXT)
            return
        call = await self._call(message, name, options, place)
        if call is None:
            return
        if await self._kept_out(message, call, place):
            return
        if streams(name):
            await self._turns.rewrite(call, await self._replier(place))
        else:
            await self._run(message, call, place)
        if carries_secret(options):  # a private chat's own key: taken, then not left on screen
            await self._keys.delete(message)

    async def _command_refused(self, message: Message, name: str, line: str) -> bool:
        """Whether the operator refuses whoever sent this command here; they are told why,
        privately, if the command was ours. In a private chat, /help and a key link's
        `/start <token>` work even when private chats are off (see key_flow)."""
        user = message.from_user
        if user is None:
            return False
        linked = name == "start" and len(line.split(maxsplit=1)) > 1
        refusal = self._refusal(message, user.id, key_flow=linked or name == "help")
        if refusal is None:
            return False
        group = message.chat.id < 0
        if self._me.commands_me(line) and (not group or self._knows(name, line)):
            await self._turn_away(user.id, refusal)
        return True

    async def _taken(self, message: Message, place: Place) -> bool:
        """Whether the message is for the bot and the group's own rules (/access) let its
        sender use it here; one who addressed the bot hears why privately, once per window."""
        addressed = self._me.addressed(message)
        if not addressed and not await self._service.answers_all(channel_of(place)):
            return False
        sender = message.from_user

        async def rights() -> Permission:
            if sender is None or is_anonymous_admin(message):
                return Permission.EVERYONE  # an anonymous admin's rights cannot be asked
            return await permission_of(
                self._bot, message.chat.id, sender.id, operators=self._operators
            )

        rules_of = self._service.server_rules
        refusal = await group_refusal(rules_of, channel_of(place), server_of(place), rights)
        if refusal is None:
            return True
        if addressed and sender is not None:  # a chat answering everyone: the rest pass
            await self._turn_away(sender.id, refusal)
        return False

    async def _kept_out(self, message: Message, call: CommandCall, place: Place) -> bool:
        """Whether the group's own rules keep the caller from commands here: told privately,
        once per window, like a refused message; its admins always pass."""

        async def rights() -> Permission:
            return call.actor.permission

        rules_of = self._service.server_rules
        refusal = await group_refusal(rules_of, call.channel, server_of(place), rights)
        if refusal is None:
            return False
        if message.from_user is not None:
            await self._turn_away(message.from_user.id, refusal)
        return True

    def _refusal(self, message: Message, user: int, *, key_flow: bool = False) -> Refusal | None:
        """Why the operator refuses `user` in this message's chat, if they do. `key_flow`
        waives the private switch and the chat lists in a private chat, never a refusal
        of the user."""
        chat = message.chat.id
        private = chat > 0  # a private chat's id is its user's
        refusal = self._gate.refusal(user, chat, private=private)
        if refusal is not None and key_flow and private and refusal.reason is not Refused.USER:
            return None
        return refusal

    async def _turn_away(self, user: int, refusal: Refusal) -> None:
        """Tell a refused user why, in their private chat (never the group), once per
        window; Telegram refusing it (they never started the bot) is left at that."""
        _log.debug("telegram: refused a message (%s)", refusal.reason.value)
        text = self._gate.notice(user, refusal)
        if text is not None:
            await self._out.tell_privately(user, text)

    def _knows(self, name: str, line: str) -> bool:
        """In a group, a command we do not have is another bot's, unless it names us."""
        return name == "start" or find_command(name) is not None or "@" in line.split(maxsplit=1)[0]

    async def _run(self, message: Message, call: CommandCall, place: Place) -> None:
        """A command that answers rather than streams: its text, and any file it made."""
        if takes_file(call.name):
            try:
                files = await documents_for_command(self._bot, message)
            except UsageError as exc:
                await self._out.say(place, str(exc))
                return
            call = dataclasses.replace(call, attachments=files)
        result = await self._service.run_command(call)
        text = headed(result.text, result.speaker if place.in_group else None)
        if call.name == "model" and not call.options.get("name", "").strip():
            models = await self._service.suggestions.model_ids(call)
            if models and call.actor.permission >= Permission.CHANNEL_ADMIN:
                await self._out.say(place, f"{text}\nPick one:", keyboard=picker(models, 0))
                return
        admin = call.actor.permission >= Permission.SERVER_ADMIN
        if place.in_group and call.name == "connect" and admin:
            link = await self._keys.offer(message, call.channel, call.options)
            if link is not None:
                text += f"\n\nTo add an API key, send it to me privately: {link}"
        if result.confirmation is not None:
            await self._confirmation(message, place, text, confirming(result.confirmation))
            return
        await self._out.say(place, text)
        if result.file is not None:
            await self._out.send_file(place, result.file)

    async def _confirmation(
        self, message: Message, place: Place, text: str, keyboard: InlineKeyboardMarkup
    ) -> None:
        """A prompt to confirm (/forget) is the asker's business: in a group it goes to their
        private chat, the group told only that; where Telegram refuses that (they never
        started the bot), it is shown in the group, where a press by anyone else is refused."""
        user = message.from_user
        private = place.in_group and user is not None and not is_anonymous_admin(message)
        if (
            private
            and user is not None
            and await self._out.say_privately(user.id, text, keyboard=keyboard)
        ):
            await self._out.say(place, SENT_PRIVATELY)
            return
        await self._out.say(place, text, keyboard=keyboard)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        error = context.error
        if isinstance(error, DeliveryError | TelegramError):
            _log.warning("telegram: could not deliver (%s)", error)
            return
        _log.error("telegram: an update failed", exc_info=error)

    # Helpers

    async def _call(
        self, message: Message, name: str, options: dict[str, str], place: Place
    ) -> CommandCall | None:
        if is_anonymous_admin(message):
            title = message.chat.title or "admin"
            actor = Actor(str(message.chat.id), title, Permission.CHANNEL_ADMIN)
        elif message.from_user is not None:
            user = message.from_user
            rights = await permission_of(
                self._bot, message.chat.id, user.id, operators=self._operators
            )
            actor = Actor(str(user.id), user.full_name, rights)
        else:
            return None
        return CommandCall(name, options, channel_of(place), actor, server=server_of(place))

    async def _replier(self, place: Place) -> TelegramReplier:
        """A replier for one streamed reply; in a group headed by the character's name."""
        speaker = None
        if place.in_group:
            speaker = await self._service.character_name(channel_of(place))
        return await self._out.replier(place, speaker=speaker)


def _log_fatal(error: PlatformRefused) -> None:
    """Without a caller to end the process, a refusal is at least said once."""
    _log.error("telegram: %s", error)
