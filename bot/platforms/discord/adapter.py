"""Discord on discord.py: gateway events and slash commands in, the conversation service,
replies out through the channel's webhook (or as the bot), paced per channel.

The client runs inside our event loop (`start()`, never `run()`), so Telegram can share
the loop. Each message is handled in its own task (discord.py dispatches that way); the
service's per-channel queue keeps a channel's turns in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import Callable
from types import TracebackType

import discord
from discord import app_commands

from bot.core.domain import ChannelKey, CommandCall, Incoming
from bot.core.errors import BotError, ConfigError, DeliveryError, PlatformRefused, UsageError
from bot.core.ports import Conversations
from bot.core.shared_state import MemorySharedState, SharedState
from bot.platforms.common.access import EVERYONE, AccessGate, AccessPolicy, Refusal
from bot.platforms.common.key_shapes import looks_like_key
from bot.platforms.common.press_routing import PressRouter
from bot.platforms.common.streamed_turns import StreamedTurns
from bot.platforms.discord import addressing, buttons
from bot.platforms.discord.access import member_permission, server_refusal
from bot.platforms.discord.client import Shards, make_client
from bot.platforms.discord.forms import PendingForms
from bot.platforms.discord.incoming import KEY_DELETED, KEY_LEFT, delete, files
from bot.platforms.discord.places import (
    PLATFORM,
    WORDING,
    Channel,
    channel_key,
    server_id_of,
    server_of,
    talkable,
)
from bot.platforms.discord.presses import Presses
from bot.platforms.discord.refusals import ended_for_good
from bot.platforms.discord.replier import LIMITS, DiscordReplier
from bot.platforms.discord.running import SETTLE_SECONDS, RunningHandlers
from bot.platforms.discord.slash import SlashCommands
from bot.platforms.discord.tree import build_commands
from bot.platforms.discord.voices import Voices
from bot.reply.pacing import Pacing, write_paced
from bot.reply.text import split_for_limit

_log = logging.getLogger(__name__)

READY_SECONDS = 60.0
"""How long start-up waits for the gateway's READY before giving up."""
UNSHARDED = Shards()


class DiscordAdapter:
    """Open with `async with`: connected and listening until closed."""

    def __init__(
        self,
        service: Conversations,
        *,
        token: str,
        pacing: Pacing,
        shards: Shards = UNSHARDED,
        operators: frozenset[int] = frozenset(),
        access: AccessPolicy = EVERYONE,
        ready_timeout: float = 2.0,
        on_fatal: Callable[[PlatformRefused], None] | None = None,
        shared_state: SharedState | None = None,
    ) -> None:
        """`access`: who may use the bot where, DMs included (its operators are never
        refused, and `operators` are added to them).
        `ready_timeout`: discord.py's wait for the servers' data after READY;
        `on_fatal` hears that Discord ended the connection for good while running (a
        token reset), for the process to end; without it, that is logged;
        `shared_state` keeps each channel's latest reply for every process (None: this
        process's memory)."""
        self._service = service
        self._token = token
        self._pacing = pacing
        self._shards = shards
        self._operators = operators
        access = dataclasses.replace(access, operators=access.operators | operators)
        self._gate = AccessGate(access, pacing.clock, wording=WORDING)
        self._ready_timeout = ready_timeout
        shared = shared_state or MemorySharedState()
        self._turns = StreamedTurns(service, shared_state=shared)
        forms = PendingForms(shared)
        service.when_forgetting(forms.forget)  # /forget drops their open forms
        self._ready = asyncio.Event()
        self._running = RunningHandlers()
        self._slash = SlashCommands(
            service,
            rewrite=self._rewrite,
            post=self._post,
            operators=operators,
            gate=self._gate,
            forms=forms,
        )
        self._presses = Presses(
            PressRouter(service, self._turns),
            service=service,
            replier=lambda channel: self._replier(channel, reply_to=None),
            post=self._post,
            operators=operators,
            gate=self._gate,
            rules_of=service.server_rules,
        )
        self._client = self._make_client(message_content=True)
        self._voices = Voices(self._client)
        self._task: asyncio.Task[None] | None = None
        self._on_fatal = on_fatal or _log_fatal
        self._closing = False

    def _make_client(self, *, message_content: bool) -> discord.Client:
        client = make_client(
            self._shards, message_content=message_content, ready_timeout=self._ready_timeout
        )
        client.on_ready = self.on_ready  # type: ignore[attr-defined]
        track = self._running.tracked
        client.on_message = track(self.on_message)  # type: ignore[attr-defined]
        client.on_raw_message_edit = track(self.on_raw_message_edit)  # type: ignore[attr-defined]
        client.on_raw_message_delete = track(self.on_raw_message_delete)  # type: ignore[attr-defined]
        client.on_interaction = track(self._on_interaction)  # type: ignore[attr-defined]
        tree = app_commands.CommandTree(client)
        for command in build_commands(track(self._slash.run), self._slash.suggest):
            tree.add_command(command)
        tree.on_error = self._on_tree_error  # type: ignore[method-assign]
        self._tree = tree
        client.add_view(buttons.PressListener(track(self._presses.press)))
        return client

    async def __aenter__(self) -> DiscordAdapter:
        try:
            await self._connect()
        except discord.PrivilegedIntentsRequired:
            _log.warning(
                "discord: the Message Content intent is off in the developer portal; "
                "answering mentions and DMs only (see README, Discord set-up)"
            )
            await self._client.close()
            self._ready.clear()
            self._client = self._make_client(message_content=False)
            self._voices = Voices(self._client)
            await self._connect()
        if not self._shards.ids or 0 in self._shards.ids:
            await self._tree.sync()  # one process publishes the commands
        user = self._client.user
        _log.info("discord: connected as %s", user.name if user else "?")
        if self._task is not None:
            self._task.add_done_callback(self._ended)
        return self

    def _ended(self, task: asyncio.Task[None]) -> None:
        """The client's task ended: at our close, or because Discord will not have us."""
        if self._closing or task.cancelled():
            return
        self._on_fatal(ended_for_good(task.exception()))

    async def connected(self) -> bool:
        """Whether every gateway connection of this process is up (for /readyz)."""
        client = self._client
        if client.is_closed() or not client.is_ready():
            return False
        if isinstance(client, discord.AutoShardedClient):
            return all(not shard.is_closed() for shard in client.shards.values())
        return client.ws is not None and client.ws.open

    async def _connect(self) -> None:
        task = asyncio.create_task(self._client.start(self._token), name="discord-client")
        self._task = task
        ready = asyncio.create_task(self._ready.wait())
        try:
            await asyncio.wait({task, ready}, timeout=READY_SECONDS, return_when="FIRST_COMPLETED")
        finally:
            ready.cancel()
        error = task.exception() if task.done() else None
        if error is None and self._ready.is_set():
            return
        await self._client.close()  # its HTTP session must not outlive a failed start
        if isinstance(error, discord.LoginFailure):
            raise ConfigError("Discord refused DISCORD_TOKEN; copy the bot's token again.")
        if error is not None:
            raise error
        raise BotError("Discord did not get ready within a minute; check the network.")

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closing = True
        await self.wind_down()
        await self._client.close()
        if self._task is not None:
            with contextlib.suppress(
                asyncio.CancelledError, TimeoutError, discord.DiscordException
            ):
                await asyncio.wait_for(self._task, GATEWAY_CLOSE_SECONDS)

    async def wind_down(self, seconds: float = SETTLE_SECONDS) -> None:
        """Let the handlers running now end, for up to `seconds`, while Discord still
        answers; cancel those that do not (their replies settle as interrupted), and let
        interaction answers already on their way go out. Closing does it too; a shutdown
        does it first, with the time its grace has left."""
        cut = await self._running.wind_down(seconds)
        if cut:
            _log.info("discord: %d handlers were cut short at shutdown; their replies settled", cut)
        await _answers_sent()

    # Gateway events

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        """Every interaction passes here besides discord.py's own dispatch: an answered
        secret form, and a press of a confirmation's button."""
        await self._slash.answer_form(interaction)
        await self._presses.on_interaction(interaction)

    async def on_ready(self) -> None:
        self._ready.set()

    async def on_message(self, message: discord.Message) -> None:
        me = self._client.user
        channel = talkable(message.channel)
        if me is None or channel is None or not addressing.from_a_person(message):
            return
        if not await self._taken(message, me, channel):
            return
        if looks_like_key(message.content):
            await self._refuse_key(channel, message)
            return
        text = addressing.text_of(message, me)
        try:
            attached = await files(message)
        except UsageError as exc:
            await self._post(channel, str(exc), False)
            return
        if not text and not attached:
            return
        incoming = Incoming(
            channel=channel_key(channel),
            author_id=str(message.author.id),
            author_name=message.author.display_name,
            text=text,
            platform_message_id=str(message.id),
            attachments=attached,
            server=server_of(channel),
        )
        await self._turns.reply(incoming, await self._replier(channel, reply_to=message))

    async def _taken(
        self, message: discord.Message, me: discord.ClientUser, channel: Channel
    ) -> bool:
        """Whether the message is for the bot and its author may use it here: the
        operator's lists first, then the server's own rules (/access). A refused author
        who asked the bot hears why in a DM, once per window; in a channel answering
        everyone, the rest pass unanswered."""
        author = message.author
        asked = await self._asked_me(message, me, channel)
        refusal = self._refusal(author.id, channel)
        if refusal is None:
            if not asked and not await self._service.answers_all(channel_key(channel)):
                return False
            permission = member_permission(channel, author, self._gate.policy.operators)
            rules_of = self._service.server_rules
            refusal = await server_refusal(rules_of, channel, author, permission)
        if refusal is None:
            return True
        if asked:
            await self._turn_away(author, refusal)
        return False

    async def _asked_me(
        self, message: discord.Message, me: discord.ClientUser, channel: Channel
    ) -> bool:
        """A DM, a mention of the bot or a reply to it: asking the service is not needed."""
        if isinstance(channel, discord.DMChannel) or addressing.mentions_me(message, me):
            return True
        return await addressing.replies_to_me(message, me, self._is_our_webhook)

    def _refusal(self, user_id: int, channel: Channel) -> Refusal | None:
        server = server_id_of(channel)
        return self._gate.refusal(user_id, server, private=server is None)

    async def _turn_away(self, user: discord.User | discord.Member, refusal: Refusal) -> None:
        """A refused person hears why in a DM, once per window, never in the channel; a
        DM Discord refuses (closed, or no server shared) is left at that."""
        _log.debug("discord: refused a message (%s)", refusal.reason.value)
        text = self._gate.notice(user.id, refusal)
        if text is None:
            return
        try:
            await user.send(text)
        except discord.HTTPException as exc:
            _log.debug("discord: could not tell a refused person why (HTTP %s)", exc.status)

    async def _is_our_webhook(self, message: discord.Message) -> bool:
        channel = talkable(message.channel)
        if channel is None:
            return False
        if not self._voices.is_ours(message.webhook_id):
            await self._voices.voice(channel, None)  # looks the channel's webhook up
        return self._voices.is_ours(message.webhook_id)

    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        """An edited message changes the stored turn; it is not answered again."""
        me = self._client.user
        message = payload.message
        if me is None or not addressing.from_a_person(message):
            return
        private = payload.guild_id is None
        if self._gate.refusal(message.author.id, payload.guild_id, private=private):
            return  # its message was never taken in
        text = addressing.text_of(message, me)
        key = _key_of(payload.channel_id)
        if looks_like_key(text):  # edited into a key: out of the history, off the screen
            await self._service.deleted(key, str(payload.message_id))
            await delete(message)
        elif text and await self._service.edited(key, str(payload.message_id), text):
            _log.debug("discord: an edited message changed its stored turn")

    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        if await self._service.deleted(_key_of(payload.channel_id), str(payload.message_id)):
            _log.debug("discord: a deleted message left the history")

    async def _on_tree_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        _log.error("discord: a slash command failed", exc_info=error)
        sorry = "Something went wrong on my side; it is in the bot's log."
        with contextlib.suppress(discord.HTTPException):
            if interaction.response.is_done():
                await interaction.followup.send(sorry, ephemeral=True)
            else:
                await interaction.response.send_message(sorry, ephemeral=True)

    async def _refuse_key(self, channel: Channel, message: discord.Message) -> None:
        """A key typed into the chat goes nowhere: not to the model, not into the history,
        and off the screen where the bot may delete it."""
        gone = await delete(message)
        await self._post(channel, KEY_DELETED if gone else KEY_LEFT, False)

    # Writing

    async def _replier(
        self, channel: Channel, *, reply_to: discord.Message | None, as_character: bool = True
    ) -> DiscordReplier:
        key = channel_key(channel)
        character = await self._service.character(key) if as_character else None
        voice = await self._voices.voice(channel, character)
        home = channel.parent_id if isinstance(channel, discord.Thread) else channel.id
        return DiscordReplier(
            channel,
            voice=voice,
            budget=self._pacing.budget_for(key, LIMITS),
            clock=self._pacing.clock,
            thread=channel if isinstance(channel, discord.Thread) else None,
            reply_to=reply_to if voice.webhook is None else None,
            on_webhook_gone=lambda: self._voices.forget(home),
        )

    async def _rewrite(self, channel: Channel, call: CommandCall) -> None:
        """A streamed command's reply, as the character."""
        await self._turns.rewrite(call, await self._replier(channel, reply_to=None))

    async def _post(self, channel: Channel, text: str, as_character: bool) -> None:
        """Something said in the channel, not streamed: paced, split where too long, and
        a rate limit waited out, as on every platform (a refusal is logged, not retried)."""
        replier = await self._replier(channel, reply_to=None, as_character=as_character)
        budget = self._pacing.budget_for(channel_key(channel), LIMITS)
        clock, limits = self._pacing.clock, replier.limits
        try:
            for part in split_for_limit(text, limits.max_length, measure=limits.measure):
                send = functools.partial(replier.send, part)
                await write_paced(send, budget=budget, clock=clock, retry_failures=False)
        except DeliveryError as exc:
            _log.warning("discord: could not post an answer (%s)", exc)
            return
        await self._turns.settle(channel_key(channel), replier, finished=as_character)


def _key_of(channel_id: int) -> ChannelKey:
    """Edits and deletes touch a channel's (a thread's) own history: no parent needed."""
    return ChannelKey(PLATFORM, str(channel_id))


ANSWERS_SETTLE_SECONDS = 1.0
"""How long a shutdown waits for interaction answers already on their way."""
GATEWAY_CLOSE_SECONDS = 1.0
"""How long closing waits for discord.py's client to end once told to close."""


async def _answers_sent() -> None:
    """Let answers on their way (an autocomplete's choices) finish before the HTTP session
    closes under them, which would log a traceback for each. discord.py answers every
    interaction in a task of its own, named by its CommandTree; our own long handlers were
    cancelled and settled just before, so these end within moments."""
    answering = [
        task
        for task in asyncio.all_tasks()
        if task.get_name() == "CommandTree-invoker" and not task.done()
    ]
    if answering:
        await asyncio.wait(answering, timeout=ANSWERS_SETTLE_SECONDS)


def _log_fatal(error: PlatformRefused) -> None:
    _log.error("discord: %s", error)
