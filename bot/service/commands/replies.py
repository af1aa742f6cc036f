"""What a reply's buttons do, typed or pressed: /stop, /regenerate and /continue.

/regenerate and /continue stream a new version into the chat (turns/rewrites.py does the
turn); /stop ends the reply being written. Knows the ports and the channel queue only.
"""

from __future__ import annotations

from bot.core.domain import CommandCall, CommandResult, Permission, TurnOutcome
from bot.core.ports import Replier
from bot.service.commands.registry import answers, writes
from bot.service.turns.queue import ChannelQueue, RunningTurn
from bot.service.turns.rewrites import Rewrites


class ReplyCommands:
    """The commands about the channel's last reply, or the one being written."""

    def __init__(self, *, queue: ChannelQueue, rewrites: Rewrites) -> None:
        self._queue = queue
        self._rewrites = rewrites

    @writes("regenerate")
    async def _regenerate(
        self, call: CommandCall, replier: Replier, run: RunningTurn
    ) -> TurnOutcome:
        return await self._rewrites.regenerate(call, replier, run)

    @writes("continue")
    async def _continue(self, call: CommandCall, replier: Replier, run: RunningTurn) -> TurnOutcome:
        return await self._rewrites.extend(call, replier, run)

    @answers("stop")
    async def _stop(self, call: CommandCall) -> CommandResult:
        running = self._queue.running(call.channel)
        nothing = CommandResult("Nothing is being written here right now.")
        if running is None or not running.writing:
            return nothing
        is_requester = running.requester_id == call.actor.user_id
        if not is_requester and call.actor.permission < Permission.CHANNEL_ADMIN:
            return CommandResult("Only the person who asked, or a channel admin, can stop it.")
        if not self._queue.stop(call.channel):
            return nothing
        return CommandResult("Stopped.", ephemeral=False)
