"""One conversation turn end to end: load, prompt, stream, persist.

Every turn, a message's or a command's, runs here holding its channel's lane, and fails
as a message in the chat. Knows the ports only: no platform SDK, HTTP library or database.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext

from bot.core.domain import (
    Billing,
    ChannelKey,
    Incoming,
    MessageStatus,
    NewUserMessage,
    TurnOutcome,
    TurnReport,
)
from bot.core.errors import BotError, EndpointError, user_message
from bot.core.ports import NO_QUOTAS, QuotaGate, Replier, Store
from bot.core.quotas import QuotaTurn
from bot.reply.pacing import Pacing
from bot.service.turns.attachments import with_text_files
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.images import PictureTaker
from bot.service.turns.prompting import PromptFactory, Speaker
from bot.service.turns.queue import ChannelQueue, RunningTurn
from bot.service.turns.replying import ReplyJob, ReplyRunner, cause_of
from bot.service.turns.shared_lane import SharedLanes

_log = logging.getLogger(__name__)

TurnBody = Callable[[RunningTurn], Awaitable[TurnOutcome]]
"""What a turn does once it holds its channel's lane."""


class TurnRunner:
    """Answers messages, one turn at a time per channel, and runs the turns commands start."""

    def __init__(
        self,
        *,
        store: Store,
        prompts: PromptFactory,
        endpoints: EndpointChoice,
        replies: ReplyRunner,
        queue: ChannelQueue,
        pacing: Pacing,
        quotas: QuotaGate = NO_QUOTAS,
        lanes: SharedLanes | None = None,
    ) -> None:
        """`quotas` is asked before each message's turn reaches the endpoint or the history;
        `lanes` makes a turn also wait for its channel's turns in other processes (None: this
        process's queue alone; turns/shared_lane.py says when it matters)."""
        self._store = store
        self._prompts = prompts
        self._endpoints = endpoints
        self._replies = replies
        self._queue = queue
        self._pacing = pacing
        self._quotas = quotas
        self._pictures = PictureTaker()
        self._lanes = lanes

    async def handle(self, incoming: Incoming, replier: Replier) -> TurnOutcome:
        """Answer one message. Errors become a message in the chat, never an exception."""
        return await self.in_turn(
            incoming.channel,
            requester_id=incoming.author_id,
            replier=replier,
            body=lambda run: self._answer(incoming, replier, run),
        )

    async def in_turn(
        self, channel: ChannelKey, *, requester_id: str, replier: Replier, body: TurnBody
    ) -> TurnOutcome:
        """Run `body` holding the channel's lane; a BotError becomes a message in the chat.

        The typing signal starts at once, so a turn waiting for its channel, or for its
        channel state and history to load, already shows life.
        """
        try:
            async with (
                replier.typing(),
                self._queue.turn(channel, requester_id=requester_id) as run,
                self._shared_lane(channel, run),
            ):
                return await body(run)
        except BotError as exc:
            return await self.failed(channel, replier, exc)

    def _shared_lane(
        self, channel: ChannelKey, run: RunningTurn
    ) -> AbstractAsyncContextManager[None]:
        return self._lanes.hold(channel, run) if self._lanes else nullcontext()

    async def failed(self, channel: ChannelKey, replier: Replier, exc: BotError) -> TurnOutcome:
        """The error as a message in the chat, sent within the channel's write budget like
        every other write: people pressing Regenerate in a busy group must not flood it.
        A message that cannot be delivered is only logged."""
        await self._pacing.budget_for(channel, replier.limits).spend(self._pacing.clock)
        text = user_message(exc)
        try:
            await replier.send(text)
        except BotError:
            _log.warning("could not deliver an error message to the chat")
        return TurnOutcome(status=MessageStatus.ERROR, content="", error_text=text)

    async def _answer(self, incoming: Incoming, replier: Replier, run: RunningTurn) -> TurnOutcome:
        try:
            job = await self._prepare(incoming)
        except BotError as exc:
            self._report_unstarted(incoming.channel, exc)
            raise
        return await self._replies.run(job, replier, run)

    def _report_unstarted(self, channel: ChannelKey, exc: BotError) -> None:
        """A turn that failed before its reply began (no endpoint, a prompt too large, the
        database): the reply runner never saw it, so the telemetry hears it from here."""
        cause = cause_of(exc)
        telemetry = self._replies.telemetry
        if isinstance(exc, EndpointError):
            telemetry.endpoint_failed(cause)
        telemetry.turn_ended(TurnReport(channel.platform, MessageStatus.ERROR, cause))

    async def _prepare(self, incoming: Incoming) -> ReplyJob:
        """Everything before the reply streams: state, endpoint, prompt, the stored message."""
        content = with_text_files(incoming.text, incoming.attachments)  # or refused, unsent
        state = await self._store.load_channel(incoming.channel)
        await self._quotas.admit(  # refused: nothing sent, nothing stored
            QuotaTurn(
                incoming.channel.platform,
                incoming.author_id,
                incoming.server,
                incoming.channel.external_id,
                operator_endpoint=self._endpoints.require_connection(state).trusted,
            )
        )
        connection, model = await self._endpoints.resolve(state)
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
        billing = Billing(incoming.author_id, incoming.server)
        job = self._replies.job(
            state, connection, model, built, ids.assistant_message_id, billing=billing
        )
        if pictures.note:
            job = dataclasses.replace(job, notice=pictures.note)
        return job
