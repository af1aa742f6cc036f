"""One conversation turn end to end: load, prompt, stream, persist; and command dispatch.

Knows the ports only: no platform SDK, HTTP library or database here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass, field

from bot.commands import check_call
from bot.domain import (
    ChannelState,
    CommandCall,
    CommandResult,
    CompletionRequest,
    Connection,
    Delta,
    Incoming,
    MessageStatus,
    NewUserMessage,
    Permission,
    TurnIds,
    TurnOutcome,
)
from bot.errors import BotError, EndpointError, UsageError, user_message
from bot.ports import Clock, CompletionClient, Replier, Store
from bot.prompt.assemble import PromptBuilder
from bot.service.help import help_text
from bot.service.queue import ChannelQueue, RunningTurn
from bot.service.settings import SettingsCommands
from bot.streaming import Pacing, ReplyStream

_log = logging.getLogger(__name__)

DEFAULT_MAX_REPLY_CHARS = 20_000
STOPPED_NOTE = "*(stopped)*"
EMPTY_REPLY_NOTE = "*(the model sent an empty reply)*"
CAPPED_NOTE = "*(reply cut: it grew past {limit} characters)*"


@dataclass
class _Reply:
    """What has arrived so far; kept as lists so the token loop stays O(1) per delta."""

    content: list[str] = field(default_factory=list)
    reasoning: list[str] = field(default_factory=list)
    chars: int = 0
    finish_reason: str | None = None
    first_token_at: float | None = None
    capped: bool = False

    def text(self) -> str:
        return "".join(self.content)


class ConversationService:
    """Runs turns (one at a time per channel) and commands for every platform."""

    def __init__(
        self,
        *,
        store: Store,
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
        self._default = default_connection
        self._history_limit = history_limit
        self._max_reply_chars = max_reply_chars
        self._settings = SettingsCommands(store=store, client=client, default=default_connection)

    async def handle(self, incoming: Incoming, replier: Replier) -> TurnOutcome:
        """Answer one message. Errors become a message in the chat, never an exception."""
        try:
            async with self._queue.turn(incoming.channel, requester_id=incoming.author_id) as run:
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
            return await self._settings.run(spec.name, call)
        except BotError as exc:
            return CommandResult(user_message(exc))

    def _stop(self, call: CommandCall) -> CommandResult:
        running = self._queue.running(call.channel)
        if running is None or running.generation is None or running.generation.done():
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
        connection, model = await self._target(state)
        message = NewUserMessage(
            author_id=incoming.author_id,
            author_name=incoming.author_name,
            content=incoming.text,
            platform_message_id=incoming.platform_message_id,
        )
        history = await self._store.history(state.chat_id, limit=self._history_limit)
        request = CompletionRequest(
            connection=connection,
            model=model,
            messages=self._prompt.build(state, history, message),
            params=state.params,
        )
        ids = await self._store.begin_turn(state.chat_id, message)
        return await self._stream_turn(incoming, replier, run=run, request=request, ids=ids)

    async def _stream_turn(
        self,
        incoming: Incoming,
        replier: Replier,
        *,
        run: RunningTurn,
        request: CompletionRequest,
        ids: TurnIds,
    ) -> TurnOutcome:
        reply = _Reply()
        started = self._clock.now()
        status, error_text = MessageStatus.INTERRUPTED, None
        budget = self._pacing.budget_for(incoming.channel, replier.limits)
        stream = ReplyStream(replier, budget=budget, clock=self._clock)
        try:
            async with replier.typing(), stream:
                run.generation = asyncio.create_task(self._pump(request, stream, reply))
                try:
                    await run.generation
                    status = MessageStatus.COMPLETE
                except asyncio.CancelledError:
                    if not run.stop_requested or _current_task_cancelling():
                        raise
                    status = MessageStatus.STOPPED
                except EndpointError as exc:
                    status, error_text = MessageStatus.ERROR, user_message(exc)
                except Exception:
                    status = MessageStatus.ERROR  # a bug: stored as failed, raised to the adapter
                    raise
                await stream.finish(note=self._note(status, reply, error_text))
        finally:
            outcome = TurnOutcome(
                status=status,
                content=reply.text(),
                reasoning="".join(reply.reasoning),
                finish_reason=reply.finish_reason,
                error_text=error_text,
            )
            await asyncio.shield(self._persist(ids, outcome))
            self._log_turn(
                incoming,
                request=request,
                reply=reply,
                outcome=outcome,
                started=started,
                stream=stream,
            )
        return outcome

    async def _pump(self, request: CompletionRequest, stream: ReplyStream, reply: _Reply) -> None:
        """The token loop: append only, never wait for the platform.

        `aclosing` closes the HTTP stream as soon as the loop ends early (the cap).
        """
        async with contextlib.aclosing(self._client.stream(request)) as deltas:
            await self._consume(deltas, stream, reply)

    async def _consume(
        self, deltas: AsyncGenerator[Delta, None], stream: ReplyStream, reply: _Reply
    ) -> None:
        async for delta in deltas:
            if delta.reasoning:
                reply.reasoning.append(delta.reasoning)
            if delta.content:
                if reply.first_token_at is None:
                    reply.first_token_at = self._clock.now()
                reply.content.append(delta.content)
                reply.chars += len(delta.content)
                stream.append(delta.content)
                if reply.chars > self._max_reply_chars:
                    reply.capped = True
                    reply.finish_reason = "length"
                    return
            if delta.finish_reason:
                reply.finish_reason = delta.finish_reason

    def _note(self, status: MessageStatus, reply: _Reply, error_text: str | None) -> str:
        if status is MessageStatus.STOPPED:
            return STOPPED_NOTE
        if status is MessageStatus.ERROR:
            return f"⚠️ {error_text}"
        if reply.capped:
            return CAPPED_NOTE.format(limit=self._max_reply_chars)
        if not reply.text().strip():
            return EMPTY_REPLY_NOTE
        return ""

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

    async def _target(self, state: ChannelState) -> tuple[Connection, str]:
        """The endpoint and model for a channel: its own connection, else the operator's.

        The operator's key only ever goes with the operator's URL.
        """
        if state.connection is not None:
            connection = state.connection
        elif self._default is not None:
            connection = self._default
        else:
            raise UsageError(
                "No model endpoint is set up for this channel yet. An admin can run "
                "/connect base_url:<url>, or the operator can set DEFAULT_BASE_URL."
            )
        model = state.model or connection.model
        if model:
            return connection, model
        return connection, await self._only_model(connection)

    async def _only_model(self, connection: Connection) -> str:
        """Servers that load one model (llama.cpp, text-generation-webui) need no choice."""
        try:
            models = await self._client.models(connection)
        except EndpointError:
            models = []
        if len(models) == 1:
            return models[0]
        offered = f" The endpoint offers: {', '.join(models[:10])}." if models else ""
        raise UsageError(
            f"No model is chosen for this channel. Pick one with /model name:<id>.{offered}"
        )

    def _log_turn(
        self,
        incoming: Incoming,
        *,
        request: CompletionRequest,
        reply: _Reply,
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
