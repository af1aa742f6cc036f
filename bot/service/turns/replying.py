"""Streaming one reply into the chat and settling it in the store, whatever happens.

Shared by every kind of turn: a new message, a regenerated reply, a continued one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from bot.core.domain import (
    Billing,
    ChannelKey,
    ChannelState,
    CompletionRequest,
    Connection,
    MessageId,
    MessageStatus,
    TokenTally,
    TurnOutcome,
    TurnReport,
    UsageEntry,
)
from bot.core.errors import DeliveryError, EndpointError, StorageError, user_message
from bot.core.ports import (
    NO_TELEMETRY,
    NO_USAGE,
    Clock,
    CompletionClient,
    Replier,
    Store,
    Telemetry,
    UsageLedger,
)
from bot.reply.pacing import Pacing
from bot.reply.streaming import ReplyStream
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.keeping import KeeperFactory, PartialReplyKeeper
from bot.service.turns.postprocess_fallback import PostprocessFallback
from bot.service.turns.prompting import BuiltPrompt
from bot.service.turns.queue import RunningTurn
from bot.service.turns.remote_stop import RemoteStops
from bot.service.turns.requests import build_request
from bot.service.turns.streamed_reply import SHUTDOWN_NOTE, STOPPED_NOTE, StreamedReply

_log = logging.getLogger(__name__)

FINAL_WRITE_RETRY_DELAYS_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""Waits between tries of the write that settles a reply: about 16 s in all, longer than a
burst of writers or a PostgreSQL failover takes to clear, short enough for shutdown."""


@dataclass(frozen=True, slots=True)
class ReplyJob:
    """Where a reply goes and what it extends.

    `prefix` is the text a continued reply already had: the stored reply is the prefix
    plus what streams now, and a failed continuation leaves the prefix as it was.
    """

    channel: ChannelKey
    reply_id: MessageId
    state: ChannelState
    request: CompletionRequest
    fallback: PostprocessFallback
    billing: Billing
    prefix: str = ""
    prefix_reasoning: str = ""
    prefix_status: MessageStatus = MessageStatus.COMPLETE
    notice: str | None = None  # said under the reply, e.g. why an image was left out
    falls_back: bool = False
    """A regeneration of a whole reply: if this one ends unfinished, the store chooses the
    version shown before it again, and the chat is told so."""
    prompt_tokens: int | None = None
    """The prompt's size as counted while it was built: the estimate when the endpoint
    reports no usage."""


class ReplyRunner:
    """Streams one reply job into the chat and settles it in the store, however it ends."""

    def __init__(
        self,
        *,
        store: Store,
        client: CompletionClient,
        pacing: Pacing,
        clock: Clock,
        endpoints: EndpointChoice,
        max_reply_chars: int,
        keeper: KeeperFactory = PartialReplyKeeper,
        telemetry: Telemetry = NO_TELEMETRY,
        usage: UsageLedger = NO_USAGE,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        stops: RemoteStops | None = None,
    ) -> None:
        """`telemetry` hears how each turn ended (the operator's metrics); the turns that
        fail before a reply starts tell it through `TurnRunner`, which reads it here.
        `usage` keeps what each turn whose reply began cost, dated by `wall_clock`.
        `stops` lets a /stop on another process stop a reply written here."""
        self._stops = stops
        self.telemetry = telemetry
        self._usage = usage
        self._wall_clock = wall_clock
        self._store = store
        self._keeper = keeper
        self._client = client
        self._pacing = pacing
        self._clock = clock
        self._endpoints = endpoints
        self._max_reply_chars = max_reply_chars

    def job(
        self,
        state: ChannelState,
        connection: Connection,
        model: str,
        built: BuiltPrompt,
        reply_id: MessageId,
        *,
        billing: Billing,
    ) -> ReplyJob:
        """The job of streaming `built` into the reply `reply_id`, shaped as the channel
        asks, and reshaped stricter if the endpoint refuses the order of its messages;
        what it costs is counted to `billing`."""
        names = {"user_name": built.user_name, "char_name": built.char_name}
        request = build_request(state, connection, model, built.messages, **names)
        fallback = PostprocessFallback(
            self._store, state, built.messages, user=built.user_name, char=built.char_name
        )
        return ReplyJob(
            state.key,
            reply_id,
            state,
            request,
            fallback,
            billing,
            prompt_tokens=built.fitted.tokens,
        )

    async def run(self, job: ReplyJob, replier: Replier, run: RunningTurn) -> TurnOutcome:
        started = self._clock.now()
        budget = self._pacing.budget_for(job.channel, replier.limits)
        keeper = self._keeper(
            self._store,
            job.reply_id,
            clock=self._clock,
            source=lambda: (reply.content, reply.reasoning),  # `reply` is bound just below
        )
        watched = self._stops and self._stops.watch(job.channel, run, keeper, self._clock)
        stream = ReplyStream(replier, budget=budget, clock=self._clock, keeper=watched or keeper)
        reply = StreamedReply(
            self._client,
            stream,
            clock=self._clock,
            display=job.state.reasoning_display,
            max_reply_chars=self._max_reply_chars,
        )

        async def remember(connection: Connection) -> None:
            await self._endpoints.learned(job.channel, connection)

        persisted: TurnOutcome | None = None
        cause: str | None = None

        async def persist(status: MessageStatus, error_text: str | None) -> TurnOutcome:
            nonlocal persisted
            persisted = _settled(job, reply, status, error_text)
            await asyncio.shield(self._persist(job.reply_id, persisted))
            return persisted

        try:
            async with stream:
                run.stop_delivery = lambda: stream.stop(_stopped_note(run))
                run.streaming = asyncio.create_task(
                    reply.run(
                        job.request, on_options_learned=remember, stricter=job.fallback.stricter
                    )
                )
                if run.stop_requested:  # /stop came while the turn was still preparing
                    run.streaming.cancel()
                status, error_text, cause = await _await_streaming(run)
                if status is MessageStatus.ERROR and cause is not None:
                    self.telemetry.endpoint_failed(cause)
                reply.notice = _notice(job, status, reply.notice)
                # Stored before the final delivery: a platform that stalls cannot lose it.
                await persist(status, error_text)
                await stream.finish(note=reply.note(status, error_text, stopped=_stopped_note(run)))
        except DeliveryError as exc:
            cause = cause or cause_of(exc)
            if persisted is None:  # the placeholder could not be sent: nothing streamed
                await persist(MessageStatus.ERROR, "the reply could not be delivered")
            raise
        except BaseException as exc:
            cancelled = _current_task_cancelling()
            cause = cause or ("cancelled" if cancelled else cause_of(exc))
            if persisted is None:
                await persist(MessageStatus.INTERRUPTED if cancelled else MessageStatus.ERROR, None)
            raise
        finally:
            if watched:
                await asyncio.shield(watched.close())
            if persisted is not None:
                duration = self._clock.now() - started
                tallies = reply.token_tallies(job.prompt_tokens)
                self._log_turn(
                    job,
                    reply=reply,
                    outcome=persisted,
                    cause=cause,
                    started=started,
                    duration=duration,
                    tallies=tallies,
                    stream=stream,
                )
                if tallies is not None:
                    await asyncio.shield(self._record_usage(job, persisted, tallies, duration))
        assert persisted is not None
        return persisted

    async def _persist(self, reply_id: MessageId, outcome: TurnOutcome) -> None:
        """Settle the reply, retrying a refused write: the chat has already seen this text,
        so giving up after one "database is locked" would lose a delivered reply. A write
        still refused after every retry is logged; the reply stays pending and is settled
        at the next start."""
        for delay in (*FINAL_WRITE_RETRY_DELAYS_SECONDS, None):
            try:
                await self._store.finish_turn(
                    reply_id,
                    content=outcome.content,
                    reasoning=outcome.reasoning,
                    status=outcome.status,
                    finish_reason=outcome.finish_reason,
                )
            except StorageError:
                if delay is None:
                    _log.exception("could not store the end of a turn; gave up retrying")
                    return
                _log.warning("could not store the end of a turn; retrying in %.2fs", delay)
                await self._clock.sleep(delay)
            else:
                return

    async def _record_usage(
        self,
        job: ReplyJob,
        outcome: TurnOutcome,
        tallies: tuple[TokenTally, TokenTally],
        duration: float,
    ) -> None:
        """Keep what the turn cost for /usage, after the chat has its reply. A database that
        refuses is logged (no text, no key) and forgotten: accounting never fails a turn,
        and a retry would hold the channel's lane for a number nobody is waiting on."""
        connection = job.request.connection
        entry = UsageEntry(
            created_at=self._wall_clock().astimezone(UTC),
            platform=job.channel.platform,
            user_id=job.billing.user_id,
            server=job.billing.server,
            channel=job.channel.external_id,
            model=job.request.model,
            endpoint_host=endpoint_host(connection.base_url),
            trusted=connection.trusted,
            prompt_tokens=tallies[0],
            completion_tokens=tallies[1],
            duration_seconds=duration,
            status=outcome.status,
        )
        try:
            await self._usage.record(entry)
        except StorageError as exc:
            _log.warning("could not record a turn's usage: %s", type(exc).__name__)

    def _log_turn(
        self,
        job: ReplyJob,
        *,
        reply: StreamedReply,
        outcome: TurnOutcome,
        cause: str | None,
        started: float,
        duration: float,
        tallies: tuple[TokenTally, TokenTally] | None,
        stream: ReplyStream,
    ) -> None:
        """One line a turn: how it ended and why, how long it took, how much it wrote and
        what it cost in tokens (the endpoint's count, else estimated: `tokens=` says which).
        The same values go as fields for LOG_FORMAT=json, and a bounded report of them to
        the telemetry; never what was said."""
        first_token = reply.first_token_at - started if reply.first_token_at else None
        prompt, completion = tallies if tallies is not None else (None, None)
        fields = {
            "channel": str(job.channel),
            "platform": job.channel.platform,
            "model": job.request.model,
            "status": outcome.status.value,
            "cause": cause,
            "first_token_seconds": None if first_token is None else round(first_token, 3),
            "duration_seconds": round(duration, 3),
            "chars": reply.chars,
            "reasoning_chars": len(outcome.reasoning),
            "sends": stream.sends,
            "edits": stream.edits,
            "finish_reason": outcome.finish_reason,
            "prompt_tokens": None if prompt is None else prompt.tokens,
            "completion_tokens": None if completion is None else completion.tokens,
            "prompt_tokens_source": None if prompt is None else prompt.source.value,
            "completion_tokens_source": None if completion is None else completion.source.value,
        }
        _log.info(
            "turn channel=%s model=%s status=%s cause=%s first_token=%s duration=%.3fs "
            "chars=%d reasoning_chars=%d sends=%d edits=%d finish=%s "
            "prompt_tokens=%s completion_tokens=%s tokens=%s",
            job.channel,
            job.request.model,
            outcome.status.value,
            cause or "-",
            "-" if first_token is None else f"{first_token:.3f}s",
            duration,
            reply.chars,
            len(outcome.reasoning),
            stream.sends,
            stream.edits,
            outcome.finish_reason or "-",
            "-" if prompt is None else prompt.tokens,
            "-" if completion is None else completion.tokens,
            _token_sources(prompt, completion),
            extra=fields,
        )
        self.telemetry.turn_ended(
            TurnReport(
                platform=job.channel.platform,
                status=outcome.status,
                cause=cause,
                duration_seconds=duration,
                first_token_seconds=first_token,
                prompt_tokens=prompt,
                completion_tokens=completion,
            )
        )


def endpoint_host(base_url: str) -> str:
    """The host of an endpoint's URL, with its port when the URL names one: never the
    scheme, credentials, path or query, which may carry a key."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:  # IPv6
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port is not None else host


def _token_sources(prompt: TokenTally | None, completion: TokenTally | None) -> str:
    """`endpoint` or `estimated` when both sides agree, `mixed` when the endpoint reported
    only one, `-` when no reply began."""
    if prompt is None or completion is None:
        return "-"
    if prompt.source is completion.source:
        return prompt.source.value
    return "mixed"


KEPT_PREVIOUS_NOTE = (
    "*(I still remember the version before this one; /swipe previous shows it again)*"
)


def _settled(
    job: ReplyJob, reply: StreamedReply, status: MessageStatus, error_text: str | None
) -> TurnOutcome:
    """What is stored. A continuation is never worse than the reply it extended: a stop
    keeps the words so far as the end, a failure leaves the reply as it was, status too."""
    if not job.prefix:
        return TurnOutcome(status, reply.content, reply.reasoning, reply.finish_reason, error_text)
    if status in (MessageStatus.COMPLETE, MessageStatus.STOPPED):
        return TurnOutcome(
            MessageStatus.COMPLETE,
            job.prefix + reply.content,
            job.prefix_reasoning + reply.reasoning,
            reply.finish_reason,
            error_text,
        )
    return TurnOutcome(job.prefix_status, job.prefix, job.prefix_reasoning, None, error_text)


def _notice(job: ReplyJob, status: MessageStatus, learned: str) -> str:
    """Everything worth one line under the reply: what was left out, what was learned."""
    notes = [note for note in (job.notice, learned) if note]
    if job.falls_back and status is not MessageStatus.COMPLETE:
        notes.append(KEPT_PREVIOUS_NOTE)
    if job.fallback.switched_to and status is MessageStatus.COMPLETE:
        notes.append(
            "*(this endpoint wants strictly ordered messages, so this channel now "
            f"uses /postprocess mode:{job.fallback.switched_to})*"
        )
    return "\n".join(notes)


async def _await_streaming(run: RunningTurn) -> tuple[MessageStatus, str | None, str | None]:
    """How the generation ended (complete, stopped by /stop, or failed at the endpoint),
    what the chat is told, and the cause for the log.

    A cancellation that is not our /stop (shutdown) propagates; a bug propagates.
    """
    assert run.streaming is not None
    try:
        await run.streaming
    except asyncio.CancelledError:
        if not run.stop_requested or _current_task_cancelling():
            raise
        return MessageStatus.STOPPED, None, "shutdown" if run.stopped_by_shutdown else "stop"
    except EndpointError as exc:
        return MessageStatus.ERROR, user_message(exc), cause_of(exc)
    return MessageStatus.COMPLETE, None, None


def cause_of(exc: BaseException) -> str:
    """The error's class, with the endpoint's HTTP status when it gave one: what an operator
    needs to tell a wrong key (EndpointRejected 401) from a server that is down."""
    status = getattr(exc, "status_code", None)
    return f"{type(exc).__name__} {status}" if isinstance(status, int) else type(exc).__name__


def _stopped_note(run: RunningTurn) -> str:
    return SHUTDOWN_NOTE if run.stopped_by_shutdown else STOPPED_NOTE


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
