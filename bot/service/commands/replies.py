"""What a reply's buttons do, typed or pressed: /stop, /regenerate, /swipe and /continue.

The three that give the last reply another version are one family. /regenerate and
/continue write a new version, so they stream into the chat holding the channel's turn
(turns/rewrites.py does the turn). /swipe does not stream, and this is deliberate: it
shows a version already kept, whole, so there is nothing to stream, and its answer is a
result the platforms put in the pressed message itself (Discord edits the interaction's
message, Telegram the message whose arrow was tapped), with the buttons kept under it.
Streaming it would post a new message at every press, and a typed /swipe would wait for
the reply being written. Knows the ports and the channel queue only.
"""

from __future__ import annotations

from bot.core.domain import CommandCall, CommandResult, Permission, TurnOutcome
from bot.core.ports import Replier, Store
from bot.service.commands.registry import answers, writes
from bot.service.turns.prompting import PromptFactory
from bot.service.turns.queue import ChannelQueue, RunningTurn
from bot.service.turns.remote_stop import RemoteStops
from bot.service.turns.rewrites import Rewrites


class ReplyCommands:
    """The commands about the channel's last reply, or the one being written."""

    def __init__(
        self,
        *,
        store: Store,
        prompts: PromptFactory,
        queue: ChannelQueue,
        rewrites: Rewrites,
        stops: RemoteStops | None = None,
    ) -> None:
        """`stops` reaches a reply another process is writing (None: one process)."""
        self._stops = stops
        self._store = store
        self._prompts = prompts
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

    @answers("swipe")
    async def _swipe(self, call: CommandCall) -> CommandResult:
        """Another kept version becomes the chosen one (the history the model reads), said
        by the character, with where it stands among the versions."""
        step = -1 if call.options.get("direction", "").strip().lower() == "previous" else 1
        state = await self._store.load_channel(call.channel)
        chosen = await self._store.choose_swipe(state.chat_id, step)
        card = await self._prompts.character(state)
        footer = f"\n*({chosen.swipe_index + 1}/{chosen.swipe_count})*"
        return CommandResult(
            (chosen.content or "*(empty)*") + footer,
            ephemeral=False,
            speaker=card.name if card else None,
        )

    @answers("stop")
    async def _stop(self, call: CommandCall) -> CommandResult:
        running = self._queue.running(call.channel)
        if running is None and self._stops is not None:
            return await self._stop_elsewhere(call, self._stops)
        if running is None or not running.writing:
            return NOTHING_TO_STOP
        if not _may_stop(call, running.requester_id):
            return NOT_YOURS_TO_STOP
        if not self._queue.stop(call.channel):
            return NOTHING_TO_STOP
        return STOPPED

    async def _stop_elsewhere(self, call: CommandCall, stops: RemoteStops) -> CommandResult:
        """Nothing runs here: the reply another process is writing in the channel, if any,
        stopped at its next checkpoint (about a second; turns/remote_stop.py)."""
        writer = await stops.writer(call.channel)
        if writer is None:
            return NOTHING_TO_STOP
        if not _may_stop(call, writer.requester_id):
            return NOT_YOURS_TO_STOP
        await stops.ask(call.channel, writer)
        return STOPPED


NOTHING_TO_STOP = CommandResult("Nothing is being written here right now.")
NOT_YOURS_TO_STOP = CommandResult("Only the person who asked, or a channel admin, can stop it.")
STOPPED = CommandResult("Stopped.", ephemeral=False)


def _may_stop(call: CommandCall, requester_id: str) -> bool:
    """Who asked for the reply, or a channel admin."""
    is_requester = requester_id == call.actor.user_id
    return is_requester or call.actor.permission >= Permission.CHANNEL_ADMIN
