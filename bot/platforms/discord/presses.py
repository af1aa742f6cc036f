"""A press of a reply's button on Discord: an interaction, answered through it.

What a press does is common/press_routing.py's; here are Discord's ways to answer. A swipe
shows the other version in the pressed message (an interaction edit, outside the channel's
write budget); Stop is silent, since the reply it ends shows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.core.domain import Actor, ChannelKey, CommandResult
from bot.core.ports import Conversations
from bot.platforms.common.access import AccessGate
from bot.platforms.common.button_presses import ButtonPress
from bot.platforms.common.confirmations import confirm, read_confirmation
from bot.platforms.common.heading import headed
from bot.platforms.common.press_routing import PressRouter
from bot.platforms.discord import buttons
from bot.platforms.discord.access import RulesOf, actor_of
from bot.platforms.discord.places import Channel, channel_key, server_of, talkable
from bot.platforms.discord.replier import LIMITS, DiscordReplier
from bot.platforms.discord.slash import Post, turned_away

NewReplier = Callable[[Channel], Awaitable[DiscordReplier]]


class Presses:
    """Hears every press of a reply's buttons and hands it to the router."""

    def __init__(
        self,
        router: PressRouter,
        *,
        service: Conversations,
        replier: NewReplier,
        post: Post,
        operators: frozenset[int],
        gate: AccessGate,
        rules_of: RulesOf,
    ) -> None:
        """`replier` makes one for a new reply in a channel; `post` says something there;
        `gate` turns away whom the operator refuses, `rules_of` whom the server's own rules
        do (each told ephemerally)."""
        self._service = service
        self._router = router
        self._replier = replier
        self._post = post
        self._operators = operators
        self._gate = gate
        self._rules_of = rules_of

    async def press(self, interaction: discord.Interaction, press: ButtonPress) -> None:
        if await turned_away(interaction, self._gate, self._rules_of):
            return
        channel = talkable(interaction.channel)
        message = interaction.message
        if channel is None or message is None:
            await interaction.response.defer()
            return
        pressed = DiscordPress(
            interaction,
            channel,
            message,
            replier=self._replier,
            post=self._post,
            operators=self._operators,
        )
        await self._router.route(pressed, press)

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Every interaction passes here (discord.py's own dispatch goes on regardless); a
        press of a confirmation's button (/forget), whose custom_id no fixed listener can
        match, is taken."""
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = interaction.data.get("custom_id") if interaction.data else None
        press = read_confirmation(custom_id if isinstance(custom_id, str) else None)
        if press is None or await turned_away(interaction, self._gate, self._rules_of):
            return
        channel = talkable(interaction.channel)
        if channel is None:
            await interaction.response.send_message("I can't act in this channel.", ephemeral=True)
            return
        await confirm(
            self._service, ConfirmationPress(interaction, channel, self._operators), press
        )


class ConfirmationPress:
    """A press of a confirmation's button (common.confirmations.ConfirmationPressed): the
    prompt is the caller's own ephemeral answer, edited through the interaction."""

    def __init__(
        self, interaction: discord.Interaction, channel: Channel, operators: frozenset[int]
    ) -> None:
        self._interaction = interaction
        self._channel = channel
        self._operators = operators

    @property
    def channel(self) -> ChannelKey:
        return channel_key(self._channel)

    @property
    def server(self) -> str | None:
        return server_of(self._channel)

    async def presser(self) -> Actor:
        return actor_of(self._interaction, self._operators)

    async def tell(self, text: str) -> None:
        await self._interaction.response.send_message(text, ephemeral=True)

    async def close(self, text: str) -> None:
        await self._interaction.response.edit_message(content=text, view=None)


class DiscordPress:
    """One press (common.press_routing.Pressed) through its interaction."""

    def __init__(
        self,
        interaction: discord.Interaction,
        channel: Channel,
        message: discord.Message,
        *,
        replier: NewReplier,
        post: Post,
        operators: frozenset[int],
    ) -> None:
        self._interaction = interaction
        self._channel = channel
        self._message = message
        self._replier = replier
        self._post = post
        self._operators = operators

    @property
    def channel(self) -> ChannelKey:
        return channel_key(self._channel)

    @property
    def message_id(self) -> int:
        return self._message.id

    @property
    def server(self) -> str | None:
        return server_of(self._channel)

    async def presser(self) -> Actor:
        return actor_of(self._interaction, self._operators)

    async def replier(self) -> DiscordReplier:
        return await self._replier(self._channel)

    async def acknowledge(self) -> None:
        await self._interaction.response.defer()

    async def tell(self, text: str) -> None:
        await self._interaction.response.send_message(text, ephemeral=True)

    async def show_version(self, result: CommandResult) -> None:
        """In the pressed message when it fits; sent anew when it does not."""
        as_bot = self._message.webhook_id is None  # a webhook's message wears the name
        text = headed(result.text, result.speaker if as_bot else None)
        if len(text) <= LIMITS.max_length:
            response = self._interaction.response
            await response.edit_message(content=text, view=buttons.after_reply())
            return
        await self._interaction.response.defer()
        await self._post(self._channel, result.text, result.speaker is not None)

    async def answer(self, result: CommandResult) -> None:
        if result.ephemeral:
            await self._interaction.response.send_message(result.text, ephemeral=True)
        else:  # "Stopped.": the reply itself shows it
            await self._interaction.response.defer()
