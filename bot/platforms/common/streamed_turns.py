"""One streamed turn on any platform: the service writes the reply through a Replier; then
the reply is settled (Stop goes; a finished reply gets Regenerate, the swipes and Continue)
and becomes the one in its channel whose buttons act.

Knows no SDK: a platform hands in its replier, which knows how to send, edit and settle.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.core.domain import ChannelKey, CommandCall, Incoming, TurnOutcome
from bot.core.errors import DeliveryError
from bot.core.ports import Conversations, Replier
from bot.core.shared_state import MemorySharedState, SharedState
from bot.platforms.common.latest import LatestReplies

_log = logging.getLogger(__name__)


class SettlingReplier(Replier, Protocol):
    """A Replier whose reply is put under the right buttons once its turn is over."""

    async def settle(self, *, finished: bool) -> list[int]:
        """Stop leaves every message; a `finished` reply's last message gets its buttons.
        Returns the platform's ids of the reply's messages, in order; raises DeliveryError
        when the platform keeps refusing."""
        ...


class StreamedTurns:
    """Runs turns into repliers, settles their replies, and keeps the latest per channel."""

    def __init__(self, service: Conversations, *, shared_state: SharedState | None = None) -> None:
        """`shared_state` keeps each channel's latest reply for every process (None: this
        process's memory)."""
        self._service = service
        self.latest = LatestReplies(shared_state or MemorySharedState())

    async def reply(self, incoming: Incoming, replier: SettlingReplier) -> TurnOutcome:
        """Answer a message with a streamed reply."""
        return await self._run(
            incoming.channel, replier, lambda: self._service.handle(incoming, replier)
        )

    async def rewrite(self, call: CommandCall, replier: SettlingReplier) -> TurnOutcome:
        """Run a command that streams (Regenerate, Continue …) into a new reply."""
        return await self._run(call.channel, replier, lambda: self._service.rewrite(call, replier))

    async def settle(
        self, channel: ChannelKey, replier: SettlingReplier, *, finished: bool
    ) -> None:
        """Settle a reply's buttons; a finished reply becomes the channel's latest. A platform
        that keeps refusing is logged, not raised: the reply's text is shown already."""
        try:
            shown = await replier.settle(finished=finished)
        except DeliveryError as exc:
            _log.warning("could not settle a reply's buttons (%s)", exc)
            return
        if shown and finished:
            await self.latest.record(channel, shown[-1])

    async def _run(
        self,
        channel: ChannelKey,
        replier: SettlingReplier,
        turn: Callable[[], Awaitable[TurnOutcome]],
    ) -> TurnOutcome:
        outcome: TurnOutcome | None = None
        try:
            outcome = await turn()
        finally:  # even after a failure: drafts become messages, Stop goes away
            finished = outcome is not None and bool(outcome.content)
            await self.settle(channel, replier, finished=finished)
        return outcome
