"""One conversation turn end to end: load, prompt, stream, persist; and command dispatch.

Knows the ports only: no platform SDK, HTTP library or database here.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.characters.stored import StoredCharacter
from bot.core.commands import check_call
from bot.core.domain import (
    ChannelKey,
    ChannelState,
    CommandCall,
    CommandResult,
    Connection,
    Incoming,
    MessageId,
    MessageStatus,
    NewUserMessage,
    Role,
    StoredMessage,
    TurnOutcome,
)
from bot.core.errors import BotError, UsageError, user_message
from bot.core.ports import (
    Characters,
    Clock,
    CompletionClient,
    EndpointGuard,
    Fetcher,
    Personas,
    Profiles,
    Replier,
    Store,
)
from bot.reply.streaming import Pacing
from bot.service.commands.characters import CharacterCommands
from bot.service.commands.connection import ConnectionCommands
from bot.service.commands.endpoint_test import EndpointTest
from bot.service.commands.help import HelpCommand
from bot.service.commands.model_commands import ModelCommands
from bot.service.commands.models import ModelCatalog
from bot.service.commands.profiles import ProfileCommands
from bot.service.commands.registry import Registry
from bot.service.commands.replies import ReplyCommands
from bot.service.commands.settings import SettingsCommands
from bot.service.commands.suggest import Suggestions
from bot.service.turns.attachments import with_text_files
from bot.service.turns.images import PictureTaker
from bot.service.turns.prompting import BuiltPrompt, PromptFactory, Speaker
from bot.service.turns.queue import ChannelQueue, RunningTurn
from bot.service.turns.replying import ReplyJob, ReplyRunner
from bot.service.turns.requests import build_request
from bot.service.turns.shaping import Shaping
from bot.service.turns.targets import Targets

_log = logging.getLogger(__name__)

DEFAULT_MAX_REPLY_CHARS = 20_000
GREETING_ONLY = (
    "The only reply here is the character's greeting; /swipe shows its other greetings "
    "and /greeting picks one."
)


class ConversationService:
    """Runs turns (one at a time per channel) and commands for every platform."""

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
    ) -> None:
        self._store = store
        self._prompts = prompts
        self._pacing = pacing
        self._queue = queue
        catalog = ModelCatalog(client, clock=clock)
        self._targets = Targets(store=store, catalog=catalog, default=default_connection)
        self._pictures = PictureTaker()
        self._replies = ReplyRunner(
            store=store,
            client=client,
            pacing=pacing,
            clock=clock,
            targets=self._targets,
            max_reply_chars=max_reply_chars,
        )
        self.suggestions = Suggestions(
            store=store,
            profiles=profiles,
            targets=self._targets,
            catalog=catalog,
            characters=characters,
        )
        self._commands = Registry.of(
            [
                SettingsCommands(store=store, targets=self._targets, characters=characters),
                ProfileCommands(profiles=profiles),
                ConnectionCommands(store=store, client=client, targets=self._targets, guard=guard),
                ModelCommands(store=store, targets=self._targets, catalog=catalog),
                EndpointTest(
                    store=store, client=client, targets=self._targets, catalog=catalog, clock=clock
                ),
                CharacterCommands(
                    store=store,
                    characters=characters,
                    personas=personas,
                    fetcher=fetcher,
                    prompts=prompts,
                ),
                ReplyCommands(queue=queue),
                HelpCommand(),
            ]
        )

    async def handle(self, incoming: Incoming, replier: Replier) -> TurnOutcome:
        """Answer one message. Errors become a message in the chat, never an exception.

        The typing signal starts at once, so a message waiting for its channel's
        turn, or for its channel state and history to load, already shows life.
        """
        try:
            async with (
                replier.typing(),
                self._queue.turn(incoming.channel, requester_id=incoming.author_id) as run,
            ):
                return await self._answer(incoming, replier, run)
        except BotError as exc:
            return await self._failed(incoming.channel, replier, exc)

    async def rewrite(self, call: CommandCall, replier: Replier) -> TurnOutcome:
        """/regenerate or /continue: a new, or a longer, version of the last reply, streamed."""
        try:
            spec = check_call(call)
            if not spec.streams:
                raise UsageError(f"/{spec.name} does not write a reply.")
            async with (
                replier.typing(),
                self._queue.turn(call.channel, requester_id=call.actor.user_id) as run,
            ):
                return await self._rewrite(call, spec.name == "continue", replier, run)
        except BotError as exc:
            return await self._failed(call.channel, replier, exc)

    async def _failed(self, channel: ChannelKey, replier: Replier, exc: BotError) -> TurnOutcome:
        """The error as a message in the chat, sent within the channel's write budget like
        every other write: people pressing Regenerate in a busy group must not flood it."""
        await self._pacing.budget_for(channel, replier.limits).spend(self._pacing.clock)
        return await _failed_unpaced(replier, exc)

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

    async def run_command(self, call: CommandCall) -> CommandResult:
        """Run a command; bad input and missing rights come back as a plain answer."""
        try:
            spec = check_call(call)
            if spec.streams:
                return CommandResult(f"/{spec.name} writes into the chat; send it there.")
            return await self._commands.answerers[spec.name](call)
        except BotError as exc:
            return CommandResult(user_message(exc))

    async def _answer(self, incoming: Incoming, replier: Replier, run: RunningTurn) -> TurnOutcome:
        content = with_text_files(incoming.text, incoming.attachments)  # or refused, unsent
        state = await self._store.load_channel(incoming.channel)
        connection, model = await self._targets.resolve(state)
        pictures = self._pictures.take(
            incoming.attachments,
            api_type=state.api_type,
            sees_images=model not in connection.options.text_only_models,
        )
        message = NewUserMessage(
            author_id=incoming.author_id,
            author_name=incoming.author_name,
            content=content,
            platform_message_id=incoming.platform_message_id,
            images=pictures.urls,
        )
        speaker = Speaker(incoming.author_id, incoming.author_name)
        built = await self._prompts.build(state, connection, model, speaker=speaker, new=message)
        ids = await self._store.begin_turn(state.chat_id, message)
        job = self._job(state, connection, model, built, ids.assistant_message_id)
        if pictures.note:
            job = dataclasses.replace(job, notice=pictures.note)
        return await self._replies.run(job, replier, run)

    async def _rewrite(
        self, call: CommandCall, continuing: bool, replier: Replier, run: RunningTurn
    ) -> TurnOutcome:
        state = await self._store.load_channel(call.channel)
        connection, model = await self._targets.resolve(state)
        last_two = await self._store.history(state.chat_id, limit=2)
        if not last_two or last_two[-1].role is not Role.ASSISTANT:
            raise UsageError("There is no reply of mine to work on yet: say something first.")
        last = last_two[-1]
        if last.status is MessageStatus.PENDING:
            raise UsageError("I'm still writing the last reply; wait for it, or /stop it.")
        if not continuing and len(last_two) == 1:
            raise UsageError(GREETING_ONLY)
        speaker = _speaker_of(last_two[0]) if len(last_two) == 2 else None
        speaker = speaker or Speaker(call.actor.user_id, call.actor.display_name)
        if continuing:
            built = await self._prompts.build(
                state, connection, model, speaker=speaker, continuing=True
            )
            previous = await self._store.begin_continuation(state.chat_id)
            job = self._job(state, connection, model, built, previous.id)
            job = dataclasses.replace(
                job,
                prefix=previous.content,
                prefix_reasoning=previous.reasoning,
                prefix_status=previous.status,
            )
        else:
            built = await self._prompts.build(
                state, connection, model, speaker=speaker, before=last.id
            )
            previous = await self._store.begin_regeneration(state.chat_id)
            job = self._job(state, connection, model, built, previous.id)
            whole = previous.status is MessageStatus.COMPLETE and bool(previous.content)
            job = dataclasses.replace(job, falls_back=whole)
        return await self._replies.run(job, replier, run)

    def _job(
        self,
        state: ChannelState,
        connection: Connection,
        model: str,
        built: BuiltPrompt,
        reply_id: MessageId,
    ) -> ReplyJob:
        names = {"user_name": built.user_name, "char_name": built.char_name}
        request = build_request(state, connection, model, built.messages, **names)
        shaping = Shaping(
            self._store, state, built.messages, user=built.user_name, char=built.char_name
        )
        return ReplyJob(state.key, reply_id, state, request, shaping)


def _speaker_of(message: StoredMessage) -> Speaker | None:
    """Who the reply being rewritten answered: the prompt is written to them, whoever asks
    for the new version, so it does not turn into a group chat or change `{{user}}`."""
    if message.role is not Role.USER or message.author_id is None:
        return None
    return Speaker(message.author_id, message.author_name or message.author_id)


async def _failed_unpaced(replier: Replier, exc: BotError) -> TurnOutcome:
    text = user_message(exc)
    await _tell(replier, text)
    return TurnOutcome(status=MessageStatus.ERROR, content="", error_text=text)


async def _tell(replier: Replier, text: str) -> None:
    """Best effort: a user-facing error that cannot be delivered is only logged."""
    try:
        await replier.send(text)
    except BotError:
        _log.warning("could not deliver an error message to the chat")
