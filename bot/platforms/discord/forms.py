"""The private form (a modal) that takes a secret: an API key, auth headers.

A slash command's options stay in the user's command history and are shown to them
again; a modal's fields are not. The form's answer goes only to the service, which
stores it encrypted and never echoes it; nothing here logs it.

An open form lives in this process (discord.py's own modal store), on purpose: Discord
sends its submission over the gateway to the shard of the server it was opened in (DMs:
shard 0), which is the process that opened it, so no other process could take it. Only
a restart while it is open loses it: Discord then says the interaction failed and the
command is run again. Kept in the database it would be the half-typed command, stored
for that rare moment, beside discord.py's dispatch rather than through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

import discord

from bot.core.commands import OptionSpec
from bot.platforms.discord.tree import SlashCall

MAX_FIELD_CHARS = 4000
"""Discord's limit for one text input."""
TITLE_CHARS = 45

OnSubmit = Callable[[discord.Interaction, SlashCall, Mapping[str, str]], Awaitable[None]]


class SecretForm(discord.ui.Modal):
    """The modal that asks for a command's secret options; its answer goes to `on_submit`."""

    def __init__(self, call: SlashCall, on_submit: OnSubmit) -> None:
        super().__init__(title=f"/{call.spec.name}: private"[:TITLE_CHARS], timeout=600)
        self._call = call
        self._on_submit = on_submit
        self._inputs: dict[str, discord.ui.TextInput[SecretForm]] = {}
        for option in call.secret_forms:
            field = _field(option)
            self._inputs[option.name] = field
            self.add_item(field)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        values = {name: field.value.strip() for name, field in self._inputs.items()}
        await self._on_submit(interaction, self._call, values)


def _field(option: OptionSpec) -> discord.ui.TextInput[SecretForm]:
    label = option.name.replace("_", " ").capitalize()
    long = option.name != "api_key"  # headers are JSON: room for several lines
    return discord.ui.TextInput(
        label=label[:45],
        custom_id=option.name,
        placeholder=option.description[:100],
        style=discord.TextStyle.paragraph if long else discord.TextStyle.short,
        required=True,
        max_length=MAX_FIELD_CHARS,
    )
