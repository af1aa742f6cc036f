"""One conversation turn end to end: load, prompt, stream, persist; and command dispatch.

Knows the ports only: no platform SDK, HTTP library or database here.
"""

from __future__ import annotations

import asyncio
import logging

from bot.commands import check_call
from bot.domain import (
    ChannelState,
    CommandCall,
    CommandResult,
    CompletionRequest,
    Connection,
    Incoming,
    MessageStatus,
    NewUserMessage,
    Permission,
    TurnIds,
    TurnOutcome,
)
from bot.errors import BotError, DeliveryError, EndpointError, user_message
from bot.ports import Clock, CompletionClient, Profiles, Replier, Store
from bot.prompt.assemble import PromptBuilder
from bot.service.connection import ConnectionCommands
from bot.service.generation import Generation
from bot.service.handlers import Handlers
from bot.service.help import help_text
from bot.service.models import ModelCatalog
from bot.service.profiles import ProfileCommands
from bot.service.queue import ChannelQueue, RunningTurn
from bot.service.requests import build_request
from bot.service.settings import SettingsCommands
from bot.service.shaping import Shaping
from bot.service.suggest import Suggestions
from bot.service.targets import Targets
from bot.streaming import Pacing, ReplyStream

_log = logging.getLogger(__name__)

DEFAULT_MAX_REPLY_CHARS = 20_000


class ConversationService:
    """Runs turns (one at a time per channel) and commands for every platform."""

    def __init__(
        self,
        *,
        store: Store,
        profiles: Profiles,
        client: CompletionClient,
        pacing: Pacing,
        clock: Clock,
        prompt_builder: PromptBuilder,
        queue: ChannelQueue,
        default_connection: Connection | None,
        history_limit: int,
        max_reply_chars: int = DEFAULT_MAX_REPLY_CHARS,
    ) -> None:
        self._store = store
        self._client = client
        self._pacing = pacing
        self._clock = clock
        self._prompt = prompt_builder
        self._queue = queue
        catalog = ModelCatalog(client, clock=clock)
        self._targets = Targets(store=store, catalog=catalog, default=default_connection)
        self._history_limit = history_limit
        self._max_reply_chars = max_reply_chars
        self.suggestions = Suggestions(
            store=store, profiles=profiles, targets=self._targets, catalog=catalog
        )
        self._commands: Handlers = {
            **SettingsCommands(store=store, targets=self._targets).handlers(),
            **ProfileCommands(profiles=profiles).handlers(),
            **ConnectionCommands(
                store=store, client=client, targets=self._targets, catalog=catalog, clock=clock
            ).handlers(),
        }

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
                return await self._run_turn(incoming, replier, run)
        except BotError as exc:
            text = user_message(exc)
            await _tell(replier, text)
            return TurnOutcome(status=MessageStatus.ERROR, content="", error_text=text)

    async def run_command(self, call: CommandCall) -> CommandResult:
        """Run a command; bad input and missing rights come back as a plain answer."""
        try:
            spec = check_call(call)
            if spec.name == "stop":
                return self._stop(call)
            if spec.name == "help":
                return CommandResult(help_text(call.actor.permission))
            return await self._commands[spec.name](call)
        except BotError as exc:
            return CommandResult(user_message(exc))

    def _stop(self, call: CommandCall) -> CommandResult:
        running = self._queue.running(call.channel)
        if running is None or (running.generation is not None and running.generation.done()):
            return CommandResult("Nothing is being written here right now.")
        is_requester = running.requester_id == call.actor.user_id
        if not is_requester and call.actor.permission < Permission.CHANNEL_ADMIN:
            return CommandResult("Only the person who asked, or a channel admin, can stop it.")
        self._queue.stop(call.channel)
        return CommandResult("Stopped.", ephemeral=False)

    async def _run_turn(
        self, incoming: Incoming, replier: Replier, run: RunningTurn
    ) -> TurnOutcome:
        state = await self._store.load_channel(incoming.channel)
        connection, model = await self._targets.resolve(state)
        message = NewUserMessage(
            author_id=incoming.author_id,
            author_name=incoming.author_name,
            content=incoming.text,
            platform_message_id=incoming.platform_message_id,
        )
        history = await self._store.history(state.chat_id, limit=self._history_limit)
        messages = self._prompt.build(state, history, message)
        request = build_request(state, connection, model, messages, user_name=incoming.author_name)
        ids = await self._store.begin_turn(state.chat_id, message)
        shaping = Shaping(self._store, state, messages, incoming.author_name)
        return await self._stream_turn(
            incoming, replier, run=run, state=state, request=request, ids=ids, shaping=shaping
        )

    async def _stream_turn(
        self,
        incoming: Incoming,
        replier: Replier,
        *,
        run: RunningTurn,
        state: ChannelState,
        request: CompletionRequest,
        ids: TurnIds,
        shaping: Shaping,
    ) -> TurnOutcome:
        started = self._clock.now()
        budget = self._pacing.budget_for(incoming.channel, replier.limits)
        stream = ReplyStream(replier, budget=budget, clock=self._clock)
        reply = Generation(
            self._client,
            stream,
            clock=self._clock,
            display=state.reasoning_display,
            max_reply_chars=self._max_reply_chars,
        )

        async def remember(connection: Connection) -> None:
            await self._targets.learned(incoming.channel, connection)

        persisted: TurnOutcome | None = None

        async def persist(status: MessageStatus, error_text: str | None) -> TurnOutcome:
            nonlocal persisted
            persisted = TurnOutcome(
                status=status,
                content=reply.content,
                reasoning=reply.reasoning,
                finish_reason=reply.finish_reason,
                error_text=error_text,
            )
            await asyncio.shield(self._persist(ids, persisted))
            return persisted

        try:
            async with stream:
                run.generation = asyncio.create_task(
                    reply.run(request, on_options_learned=remember, stricter=shaping.stricter)
                )
                if run.stop_requested:  # /stop came while the turn was still preparing
                    run.generation.cancel()
                status, error_text = await self._await_generation(run)
                if shaping.switched_to and status is MessageStatus.COMPLETE:
                    reply.notice = (
                        "*(this endpoint wants strictly ordered messages, so this channel now "
                        f"uses /postprocess mode:{shaping.switched_to})*"
                    )
                # Stored before the final delivery: a platform that stalls cannot lose it.
                await persist(status, error_text)
                await stream.finish(note=reply.note(status, error_text))
        except DeliveryError:
            if persisted is None:  # the placeholder could not be sent: nothing streamed
                await persist(MessageStatus.ERROR, "the reply could not be delivered")
            raise
        except BaseException:
            if persisted is None:
                cancelled = _current_task_cancelling()
                await persist(MessageStatus.INTERRUPTED if cancelled else MessageStatus.ERROR, None)
            raise
        finally:
            if persisted is not None:
                self._log_turn(
                    incoming,
                    request=request,
                    reply=reply,
                    outcome=persisted,
                    started=started,
                    stream=stream,
                )
        assert persisted is not None
        return persisted

    @staticmethod
    async def _await_generation(run: RunningTurn) -> tuple[MessageStatus, str | None]:
        """How the generation ended: complete, stopped by /stop, or failed at the endpoint.

        A cancellation that is not our /stop (shutdown) propagates; a bug propagates.
        """
        assert run.generation is not None
        try:
            await run.generation
        except asyncio.CancelledError:
            if not run.stop_requested or _current_task_cancelling():
                raise
            return MessageStatus.STOPPED, None
        except EndpointError as exc:
            return MessageStatus.ERROR, user_message(exc)
        return MessageStatus.COMPLETE, None

    async def _persist(self, ids: TurnIds, outcome: TurnOutcome) -> None:
        try:
            await self._store.finish_turn(
                ids.assistant_message_id,
                content=outcome.content,
                reasoning=outcome.reasoning,
                status=outcome.status,
                finish_reason=outcome.finish_reason,
            )
        except BotError:
            _log.exception("could not store the end of a turn")

    def _log_turn(
        self,
        incoming: Incoming,
        *,
        request: CompletionRequest,
        reply: Generation,
        outcome: TurnOutcome,
        started: float,
        stream: ReplyStream,
    ) -> None:
        now = self._clock.now()
        first = f"{reply.first_token_at - started:.3f}s" if reply.first_token_at else "-"
        _log.info(
            "turn channel=%s model=%s status=%s first_token=%s duration=%.3fs chars=%d "
            "reasoning_chars=%d sends=%d edits=%d finish=%s",
            incoming.channel,
            request.model,
            outcome.status.value,
            first,
            now - started,
            reply.chars,
            len(outcome.reasoning),
            stream.sends,
            stream.edits,
            outcome.finish_reason or "-",
        )


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _tell(replier: Replier, text: str) -> None:
    """Best effort: a user-facing error that cannot be delivered is only logged."""
    try:
        await replier.send(text)
    except BotError:
        _log.warning("could not deliver an error message to the chat")
