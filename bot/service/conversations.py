"""The service behind the inbound `Conversations` port: turns and commands behind one face.

Platforms call only this. Messages and the replies they stream are turns/' work; commands
are commands/' (one family module each, found through the registry). Knows the ports only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from bot.characters.stored import StoredCharacter
from bot.core.domain import (
    ChannelKey,
    CommandCall,
    CommandResult,
    Connection,
    Incoming,
    ModelPrice,
    TurnOutcome,
)
from bot.core.errors import BotError
from bot.core.ports import (
    NO_ACCESS_RULES,
    NO_QUOTAS,
    NO_TELEMETRY,
    NO_USAGE,
    AccessRules,
    Characters,
    Clock,
    CompletionClient,
    EndpointGuard,
    Erasure,
    Fetcher,
    ForgetHook,
    Personas,
    Profiles,
    QuotaBook,
    Replier,
    Store,
    Telemetry,
    UsageLedger,
)
from bot.core.quotas import NO_LIMITS, Limits
from bot.core.server_access import NO_RULES, ServerRules
from bot.core.shared_state import MemorySharedState, SharedState
from bot.reply.pacing import Pacing
from bot.service.commands.access import AccessCommands
from bot.service.commands.characters import CharacterCommands
from bot.service.commands.chat_archive import ChatArchiveCommands
from bot.service.commands.chats import ChatCommands
from bot.service.commands.connection import ConnectionCommands
from bot.service.commands.dispatch import CommandDispatcher
from bot.service.commands.endpoint_test import EndpointTest
from bot.service.commands.forget import ForgetCommands, ForgetHooks
from bot.service.commands.help import HelpCommand
from bot.service.commands.limits import LimitsCommands
from bot.service.commands.model_commands import ModelCommands
from bot.service.commands.profiles import ProfileCommands
from bot.service.commands.registry import Registry
from bot.service.commands.replies import ReplyCommands
from bot.service.commands.settings import SettingsCommands
from bot.service.commands.suggest import Suggestions
from bot.service.commands.usage import UsageCommands
from bot.service.confirmations import Confirmations
from bot.service.quotas import Quotas
from bot.service.server_access import ServerAccess
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.keeping import KeeperFactory, PartialReplyKeeper
from bot.service.turns.models import ModelCatalog
from bot.service.turns.prompting import PromptFactory
from bot.service.turns.queue import ChannelQueue, QueueLoad
from bot.service.turns.remote_stop import RemoteStops
from bot.service.turns.replying import ReplyRunner
from bot.service.turns.rewrites import Rewrites
from bot.service.turns.runner import TurnRunner
from bot.service.turns.shared_lane import SharedLanes

_log = logging.getLogger(__name__)

DEFAULT_MAX_REPLY_CHARS = 20_000


class ConversationService:
    """What platforms call: answer messages, run commands, offer suggestions, tell facts."""

    def __init__(
        self,
        *,
        store: Store,
        profiles: Profiles,
        characters: Characters,
        personas: Personas,
        fetcher: Fetcher,
        client: CompletionClient,
        pacing: Pacing,
        clock: Clock,
        prompts: PromptFactory,
        queue: ChannelQueue,
        default_connection: Connection | None,
        max_reply_chars: int = DEFAULT_MAX_REPLY_CHARS,
        guard: EndpointGuard | None = None,
        keeper: KeeperFactory = PartialReplyKeeper,
        telemetry: Telemetry = NO_TELEMETRY,
        usage: UsageLedger = NO_USAGE,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        prices: Mapping[str, ModelPrice] | None = None,
        access_rules: AccessRules = NO_ACCESS_RULES,
        quota_book: QuotaBook | None = None,
        limits: Limits = NO_LIMITS,
        erasure: Erasure | None = None,
        shared_state: SharedState | None = None,
        shared_lanes: bool = False,
    ) -> None:
        """Built once, by `bot.app.build_service`; the tests and benchmarks build it there too.
        `telemetry` hears how each turn ended (the operator's metrics); `usage` keeps what
        each turn cost, dated by `wall_clock`, for /usage, which prices it with `prices`
        (USD per million tokens, by model); `access_rules` are servers' own /access rules.
        `quota_book` counts turns for the operator's `limits` and the servers' own (None: no
        quotas, nothing read); `erasure` is what /forget erases with; `shared_state` keeps what
        every process must see alike, such as /forget's confirmation codes (None: this
        process's memory, for a single process). `shared_lanes` (with a `shared_state`) keeps
        one turn at a time per channel across processes too: set it only when one chat's
        messages may reach several processes (Telegram by webhook), as it costs every turn
        a database round trip (turns/shared_lane.py); it also lets a /stop reach a reply
        another process writes (turns/remote_stop.py)."""
        self._store = store
        self._access = ServerAccess(access_rules, clock)
        self._prompts = prompts
        self._queue = queue
        self._forget_hooks = ForgetHooks()
        catalog = ModelCatalog(client, clock=clock)
        endpoints = EndpointChoice(store=store, catalog=catalog, default=default_connection)
        # Only where one chat's turns may run in several processes: a single process would
        # pay a read a second per streaming reply for a stop no other process can send.
        stops = RemoteStops(shared_state) if shared_state is not None and shared_lanes else None
        replies = ReplyRunner(
            store=store,
            client=client,
            pacing=pacing,
            clock=clock,
            endpoints=endpoints,
            max_reply_chars=max_reply_chars,
            keeper=keeper,
            telemetry=telemetry,
            usage=usage,
            wall_clock=wall_clock,
            stops=stops,
        )
        quotas = (
            Quotas(book=quota_book, defaults=limits, wall_clock=wall_clock)
            if quota_book is not None
            else None
        )
        self._turns = TurnRunner(
            store=store,
            prompts=prompts,
            endpoints=endpoints,
            replies=replies,
            queue=queue,
            pacing=pacing,
            quotas=quotas or NO_QUOTAS,
            lanes=SharedLanes(shared_state, clock) if shared_state and shared_lanes else None,
        )
        self.suggestions = Suggestions(
            store=store,
            profiles=profiles,
            endpoints=endpoints,
            catalog=catalog,
            characters=characters,
        )
        rewrites = Rewrites(
            store=store,
            prompts=prompts,
            endpoints=endpoints,
            replies=replies,
            quotas=quotas or NO_QUOTAS,
        )
        families = [  # a new family of commands is listed here once
            SettingsCommands(store=store, endpoints=endpoints, characters=characters),
            ProfileCommands(profiles=profiles),
            ConnectionCommands(store=store, client=client, endpoints=endpoints, guard=guard),
            ModelCommands(store=store, endpoints=endpoints, catalog=catalog),
            EndpointTest(
                store=store, client=client, endpoints=endpoints, catalog=catalog, clock=clock
            ),
            CharacterCommands(
                store=store,
                characters=characters,
                personas=personas,
                fetcher=fetcher,
                prompts=prompts,
            ),
            ReplyCommands(
                store=store, prompts=prompts, queue=queue, rewrites=rewrites, stops=stops
            ),
            UsageCommands(usage=usage, wall_clock=wall_clock, prices=prices or {}),
            ChatCommands(store=store, prompts=prompts, wall_clock=wall_clock),
            AccessCommands(access=self._access),
            LimitsCommands(
                quotas=quotas,
                book=quota_book,
                store=store,
                endpoints=endpoints,
                wall_clock=wall_clock,
            ),
            ChatArchiveCommands(store=store, prompts=prompts, wall_clock=wall_clock),
            ForgetCommands(
                erasure=erasure,
                confirmations=Confirmations(shared_state or MemorySharedState(), wall_clock),
                hooks=self._forget_hooks,
            ),
            HelpCommand(),
        ]
        self.commands = CommandDispatcher(Registry.of(families), self._turns)

    def load(self) -> QueueLoad:
        """Turns running and waiting now, over every channel (for the metrics' gauges)."""
        return self._queue.load()

    @property
    def shutting_down(self) -> bool:
        """Whether `shut_down` has begun (for readiness: a stopping bot takes no turns)."""
        return self._queue.closed

    async def shut_down(self, *, within: float) -> int:
        """Stop taking turns and end the running ones as /stop does, so that each is stored
        as stopped and its chat shows the text so far with the stopped note. Waits for them
        at most `within` seconds: the platforms must still be open to deliver those last
        edits, so the caller closes them only after this. A message arriving from now on is
        answered that the bot is restarting.

        Returns how many turns were still running or waiting when the wait ended."""
        stopped = self._queue.close()
        if stopped:
            _log.info("shutting down: stopped %d replies being written", stopped)
        # Real time, not the pacing clock: this bound is the process manager's, which
        # kills the process on a wall clock of its own.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.drained(), timeout=within)
        left = self._queue.load()
        return left.running + left.waiting

    async def handle(self, incoming: Incoming, replier: Replier) -> TurnOutcome:
        """Answer one message. Errors become a message in the chat, never an exception."""
        return await self._turns.handle(incoming, replier)

    async def rewrite(self, call: CommandCall, replier: Replier) -> TurnOutcome:
        """A command whose spec streams (/regenerate, /continue), written into the chat."""
        return await self.commands.rewrite(call, replier)

    async def run_command(self, call: CommandCall) -> CommandResult:
        """Run a command; bad input and missing rights come back as a plain answer."""
        return await self.commands.run_command(call)

    async def server_rules(self, channel: ChannelKey, server: str | None) -> ServerRules:
        """Where in its server, and to whom, the bot answers; none narrow a DM. A store that
        cannot be read narrows nothing: the operator's own lists still hold, and a server
        must not go silent over a database hiccup."""
        if server is None:
            return NO_RULES
        try:
            return await self._access.rules(channel.platform, server)
        except BotError:
            _log.warning("could not read a server's access rules; not narrowing")
            return NO_RULES

    async def edited(self, channel: ChannelKey, platform_message_id: str, text: str) -> bool:
        """A user edited a message: the history says what it says now. Not answered again;
        /regenerate does that when wanted."""
        try:
            return await self._store.edit_user_message(channel, platform_message_id, text)
        except BotError:
            _log.warning("could not store an edited message")
            return False

    async def deleted(self, channel: ChannelKey, platform_message_id: str) -> bool:
        """A user deleted a message: the model no longer reads it."""
        try:
            return await self._store.forget_user_message(channel, platform_message_id)
        except BotError:
            _log.warning("could not forget a deleted message")
            return False

    async def answers_all(self, channel: ChannelKey) -> bool:
        """Whether a group channel wants every message answered (/listen mode:all)."""
        try:
            return (await self._store.load_channel(channel)).answer_all
        except BotError:
            return False

    async def character_name(self, channel: ChannelKey) -> str | None:
        """Who speaks in the channel, for platforms that put the name on each reply; None
        when the bot speaks as itself (or the channel cannot be read)."""
        stored = await self.character(channel)
        return stored.name if stored is not None else None

    async def character(self, channel: ChannelKey) -> StoredCharacter | None:
        """The channel's character with its avatar, for platforms that show who speaks."""
        try:
            return await self._prompts.stored_character(await self._store.load_channel(channel))
        except BotError:
            return None

    def when_forgetting(self, hook: ForgetHook) -> None:
        """Adapters register what they hold about people (pending key links, open forms),
        for /forget target:me to drop it before the rest."""
        self._forget_hooks.add(hook)
