"""What a reply's buttons do, typed or pressed: /stop (more to come with the swipes).

Knows the ports and the channel queue only.
"""

from __future__ import annotations

from bot.core.domain import CommandCall, CommandResult, Permission
from bot.service.commands.registry import answers
from bot.service.turns.queue import ChannelQueue


class ReplyCommands:
    """/stop: ends the reply being written in the channel."""

    def __init__(self, *, queue: ChannelQueue) -> None:
        self._queue = queue

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
