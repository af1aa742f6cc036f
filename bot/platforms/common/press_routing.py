"""What a press of a reply's button does, on every platform (button_presses.py says what
each button stands for).

The buttons act on the channel's latest reply only (Stop anywhere). Regenerate and Continue
stream a new reply; a swipe shows the other version in the pressed message itself; any
other answer goes to the presser alone (Stop's own is shown by the reply it ends). The
platform reads the press and answers it through `Pressed`: SDK calls only.
"""

from __future__ import annotations

from typing import Protocol

from bot.core.commands import streams
from bot.core.domain import Actor, ChannelKey, CommandCall, CommandResult
from bot.core.ports import Conversations
from bot.platforms.common.button_presses import ButtonPress
from bot.platforms.common.latest import OLD_BUTTON
from bot.platforms.common.streamed_turns import SettlingReplier, StreamedTurns


class Pressed(Protocol):
    """One press under one of the bot's messages, and the platform's ways to answer it.

    Each answer is called once at most, and exactly one of acknowledge, tell, show_version
    and answer is called per press.
    """

    @property
    def channel(self) -> ChannelKey:
        """The conversation the pressed message belongs to."""
        ...

    @property
    def message_id(self) -> int:
        """The platform's id of the pressed message."""
        ...

    @property
    def server(self) -> str | None:
        """The server (group) whose profiles and characters the channel shares."""
        ...

    async def presser(self) -> Actor:
        """Who pressed, with their rights in this channel."""
        ...

    async def replier(self) -> SettlingReplier:
        """A replier for a new reply in the channel (Regenerate, Continue)."""
        ...

    async def acknowledge(self) -> None:
        """Take the press without a word: what follows shows its effect."""
        ...

    async def tell(self, text: str) -> None:
        """Say `text` to the presser alone."""
        ...

    async def show_version(self, result: CommandResult) -> None:
        """Show another version of the reply (a swipe's result) in the pressed message."""
        ...

    async def answer(self, result: CommandResult) -> None:
        """Give the presser any other command's result."""
        ...


class PressRouter:
    """Turns a press into the command it stands for, and its result into an answer."""

    def __init__(self, service: Conversations, turns: StreamedTurns) -> None:
        self._service = service
        self._turns = turns

    async def route(self, pressed: Pressed, press: ButtonPress) -> None:
        """Run what the button stands for, if it may act where it was pressed, and show
        the result: a streamed reply, a version in place, or an answer to the presser."""
        if not await self._turns.latest.acts_on(pressed.channel, pressed.message_id, press):
            await pressed.tell(OLD_BUTTON)
            return
        call = CommandCall(
            press.command,
            dict(press.options),
            pressed.channel,
            await pressed.presser(),
            server=pressed.server,
        )
        if streams(press.command):
            await pressed.acknowledge()
            await self._turns.rewrite(call, await pressed.replier())
            return
        result = await self._service.run_command(call)
        if press.shows_in_place and not result.ephemeral:
            await pressed.show_version(result)
        else:
            await pressed.answer(result)
