"""What a press of a reply's button does: Stop, Regenerate, the swipes, Continue.

Regenerate and Continue stream a new reply; a swipe shows the other version in the
pressed message itself (an interaction edit, outside the channel's write budget); Stop
is silent, since the reply it ends shows it. The buttons act on the channel's latest
reply only; after a restart, when the bot no longer knows which that is, the service
still acts on the stored last reply.
"""

from __future__ import annotations

import discord

from bot.core.commands import streams
from bot.core.domain import CommandCall
from bot.core.ports import Conversations
from bot.platforms.common.button_presses import ButtonPress
from bot.platforms.common.heading import headed
from bot.platforms.common.latest import OLD_BUTTON, LatestReplies
from bot.platforms.discord import buttons
from bot.platforms.discord.access import actor_of
from bot.platforms.discord.places import channel_key, server_of, talkable
from bot.platforms.discord.replier import LIMITS
from bot.platforms.discord.slash import Post, Rewrite


class Presses:
    def __init__(
        self,
        service: Conversations,
        *,
        latest: LatestReplies,
        rewrite: Rewrite,
        post: Post,
        operators: frozenset[int],
    ) -> None:
        """`latest` says which reply's buttons act, kept by whoever writes replies."""
        self._service = service
        self._latest = latest
        self._rewrite = rewrite
        self._post = post
        self._operators = operators

    async def press(self, interaction: discord.Interaction, press: ButtonPress) -> None:
        channel = talkable(interaction.channel)
        message = interaction.message
        if channel is None or message is None:
            await interaction.response.defer()
            return
        if not self._latest.acts_on(channel_key(channel), message.id, press):
            await interaction.response.send_message(OLD_BUTTON, ephemeral=True)
            return
        call = CommandCall(
            press.command,
            dict(press.options),
            channel_key(channel),
            actor_of(interaction, self._operators),
            server=server_of(channel),
        )
        if streams(press.command):
            await interaction.response.defer()
            await self._rewrite(channel, call)
            return
        result = await self._service.run_command(call)
        if press.command == "swipe" and not result.ephemeral:
            as_bot = message.webhook_id is None  # a webhook's message wears the name already
            text = headed(result.text, result.speaker if as_bot else None)
            if len(text) <= LIMITS.max_length:
                await interaction.response.edit_message(content=text, view=buttons.after_reply())
                return
            await interaction.response.defer()  # too long for one message: sent anew
            await self._post(channel, result.text, result.speaker is not None)
        elif result.ephemeral:
            await interaction.response.send_message(result.text, ephemeral=True)
        else:  # "Stopped.": the reply itself shows it
            await interaction.response.defer()
