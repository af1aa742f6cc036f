"""Running a command: the call checked against the catalogue, then its handler's turn.

The registry (registry.py) says which handler runs; a command whose spec streams runs
holding the channel's turn, like a message. Knows the ports only.
"""

from __future__ import annotations

from bot.core.commands import check_call
from bot.core.domain import CommandCall, CommandResult, TurnOutcome
from bot.core.errors import BotError, UsageError, user_message
from bot.core.ports import Replier
from bot.service.commands.registry import Registry, Writer
from bot.service.turns.runner import TurnRunner


class CommandDispatcher:
    """Checks each call (name, options, rights) and hands it to its registered handler."""

    def __init__(self, registry: Registry, turns: TurnRunner) -> None:
        registry.check_complete()
        self.registry = registry
        self._turns = turns

    async def run_command(self, call: CommandCall) -> CommandResult:
        """Run a command; bad input and missing rights come back as a plain answer."""
        try:
            spec = check_call(call)
            answer = self.registry.answerers.get(spec.name)
            if answer is None:
                return CommandResult(f"/{spec.name} writes into the chat; send it there.")
            return await answer(call)
        except BotError as exc:
            return CommandResult(user_message(exc))

    async def rewrite(self, call: CommandCall, replier: Replier) -> TurnOutcome:
        """A command whose spec streams: its reply written into the chat, or why not."""
        try:
            writer = self._writer(call)
        except BotError as exc:
            return await self._turns.failed(call.channel, replier, exc)
        return await self._turns.in_turn(
            call.channel,
            requester_id=call.actor.user_id,
            replier=replier,
            body=lambda run: writer(call, replier, run),
        )

    def _writer(self, call: CommandCall) -> Writer:
        spec = check_call(call)
        writer = self.registry.writers.get(spec.name)
        if writer is None:
            raise UsageError(f"/{spec.name} does not write a reply.")
        return writer
