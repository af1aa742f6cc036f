"""New versions of the channel's last reply: a regenerated one, or a longer one.

Both stream like any reply (replying.py); what differs is the prompt (without the old
reply, or ending with it) and what a failure leaves (the version before, or the reply as
it was). Knows the ports only.
"""

from __future__ import annotations

import dataclasses

from bot.core.domain import Billing, CommandCall, MessageStatus, Role, StoredMessage, TurnOutcome
from bot.core.errors import UsageError
from bot.core.ports import NO_QUOTAS, QuotaGate, Replier, Store
from bot.core.quotas import QuotaTurn
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.prompting import PromptFactory, Speaker
from bot.service.turns.queue import RunningTurn
from bot.service.turns.replying import ReplyRunner

GREETING_ONLY = (
    "The only reply here is the character's greeting; /swipe shows its other greetings "
    "and /greeting picks one."
)


class Rewrites:
    """Regenerates or continues the last reply, holding the channel's turn."""

    def __init__(
        self,
        *,
        store: Store,
        prompts: PromptFactory,
        endpoints: EndpointChoice,
        replies: ReplyRunner,
        quotas: QuotaGate = NO_QUOTAS,
    ) -> None:
        """`quotas` is asked before a new version reaches the endpoint, as for a message."""
        self._store = store
        self._prompts = prompts
        self._endpoints = endpoints
        self._replies = replies
        self._quotas = quotas

    async def regenerate(
        self, call: CommandCall, replier: Replier, run: RunningTurn
    ) -> TurnOutcome:
        """A new version, written without the old one in the prompt; the old one stays a swipe."""
        return await self._rewrite(call, replier, run, continuing=False)

    async def extend(self, call: CommandCall, replier: Replier, run: RunningTurn) -> TurnOutcome:
        """The last reply, carried on where it stopped."""
        return await self._rewrite(call, replier, run, continuing=True)

    async def _rewrite(
        self, call: CommandCall, replier: Replier, run: RunningTurn, *, continuing: bool
    ) -> TurnOutcome:
        state = await self._store.load_channel(call.channel)
        last_two = await self._store.history(state.chat_id, limit=2)
        if not last_two or last_two[-1].role is not Role.ASSISTANT:
            raise UsageError("There is no reply of mine to work on yet: say something first.")
        last = last_two[-1]
        if last.status is MessageStatus.PENDING:
            raise UsageError("I'm still writing the last reply; wait for it, or /stop it.")
        if not continuing and len(last_two) == 1:
            raise UsageError(GREETING_ONLY)
        await self._quotas.admit(  # who asks pays: refused, nothing is sent or changed
            QuotaTurn(
                call.channel.platform,
                call.actor.user_id,
                call.server,
                call.channel.external_id,
                operator_endpoint=self._endpoints.require_connection(state).trusted,
            )
        )
        connection, model = await self._endpoints.resolve(state)
        speaker = _speaker_of(last_two[0]) if len(last_two) == 2 else None
        speaker = speaker or Speaker(call.actor.user_id, call.actor.display_name)
        billing = Billing(call.actor.user_id, call.server)  # who asked pays, not who was answered
        if continuing:
            built = await self._prompts.build(
                state, connection, model, speaker=speaker, continuing=True
            )
            previous = await self._store.begin_continuation(state.chat_id)
            job = self._replies.job(state, connection, model, built, previous.id, billing=billing)
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
            job = self._replies.job(state, connection, model, built, previous.id, billing=billing)
            whole = previous.status is MessageStatus.COMPLETE and bool(previous.content)
            job = dataclasses.replace(job, falls_back=whole)
        return await self._replies.run(job, replier, run)


def _speaker_of(message: StoredMessage) -> Speaker | None:
    """Who the reply being rewritten answered: the prompt is written to them, whoever asks
    for the new version, so it does not turn into a group chat or change `{{user}}`."""
    if message.role is not Role.USER or message.author_id is None:
        return None
    return Speaker(message.author_id, message.author_name or message.author_id)
