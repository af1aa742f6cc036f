"""Running slash commands: acknowledge within Discord's 3 seconds, then the service.

Every call is deferred at once as an ephemeral "thinking…" (only the caller sees it), so
slow work (a database, an endpoint probe) never misses the deadline; the answer then
replaces it. A command whose answer belongs to the channel (a greeting, a swipe) is
posted there, as the character, and the private placeholder removed. A secret option
opens a form instead, since a modal must be the first answer.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Mapping

import discord

from bot.core.commands import CommandSpec, OptionSpec, streams
from bot.core.domain import Attachment, CommandCall, CommandResult, Permission
from bot.core.errors import UsageError
from bot.core.ports import Conversations
from bot.platforms.common.access import AccessGate, Refusal
from bot.platforms.discord import buttons
from bot.platforms.discord.access import RulesOf, actor_of, permission_of, server_refusal
from bot.platforms.discord.forms import PendingForms, SecretForm, answers_of, is_form
from bot.platforms.discord.places import Channel, channel_key, server_of, talkable
from bot.platforms.discord.replier import LIMITS
from bot.platforms.discord.tree import SlashCall, read_call
from bot.reply.text import split_for_limit

_log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
"""A character card is a few MiB at most, and a chat file for /chats is read up to 20 MiB
(`service.chatreader`); anything bigger is refused before download."""
SUGGEST_SECONDS = 2.5
"""Autocomplete cannot be deferred: what is not ready by then is not offered."""
SERVERS_ONLY = "This command works in a server channel, not in direct messages."

Rewrite = Callable[[Channel, CommandCall], Awaitable[None]]
Post = Callable[[Channel, str, bool], Awaitable[None]]
FORM_GONE = (
    "This form expired (a form waits 10 minutes) or was sent already, so nothing was "
    "saved: run the command again."
)


class SlashCommands:
    """Runs slash commands and their private forms, and answers autocomplete."""

    def __init__(
        self,
        service: Conversations,
        *,
        rewrite: Rewrite,
        post: Post,
        operators: frozenset[int],
        gate: AccessGate,
        forms: PendingForms,
    ) -> None:
        """`rewrite` streams a command's reply into a channel; `post(channel, text,
        as_character)` says something there that is not streamed; `gate` turns away
        whom the operator refuses; `forms` keeps the commands waiting for their form."""
        self._service = service
        self._rewrite = rewrite
        self._post = post
        self._operators = operators
        self._gate = gate
        self._forms = forms

    async def run(self, interaction: discord.Interaction, call: SlashCall) -> None:
        if await turned_away(interaction, self._gate, self._service.server_rules):
            return
        if call.secret_forms:
            if permission_of(interaction, self._operators) >= call.spec.permission:
                token = await self._forms.open(call, interaction.user.id)
                await interaction.response.send_modal(SecretForm(call, token))
                return
            # No form for someone who may not use it: the service says what is missing.
            await interaction.response.defer(ephemeral=True, thinking=True)
            await self._execute(interaction, call, {})
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._execute(interaction, call, {})

    async def suggest(
        self, interaction: discord.Interaction, spec: CommandSpec, option: OptionSpec, typed: str
    ) -> list[str]:
        channel = talkable(interaction.channel)
        if channel is None or refusal_of(interaction, self._gate) is not None:
            return []
        permission = permission_of(interaction, self._gate.policy.operators)
        rules_of = self._service.server_rules
        if await server_refusal(rules_of, channel, interaction.user, permission) is not None:
            return []
        typed_so_far = read_call(spec, dict(iter(interaction.namespace))).options
        typed_so_far.pop(option.name, None)
        call = self._call(interaction, channel, spec.name, typed_so_far)
        try:
            async with asyncio.timeout(SUGGEST_SECONDS):
                return await self._service.suggestions.for_option(call, option.name, typed)
        except TimeoutError:
            return []

    async def answer_form(self, interaction: discord.Interaction) -> None:
        """A form of ours was sent (in whichever process showed it): its command runs once
        with the typed secrets, for the user it was shown to."""
        custom_id = is_form(interaction)
        if custom_id is None:
            return
        call = await self._forms.take(custom_id, interaction.user.id)
        if call is None:
            await interaction.response.send_message(FORM_GONE, ephemeral=True)
            return
        await self._submitted(interaction, call, answers_of(interaction.data or {}))

    async def _submitted(
        self, interaction: discord.Interaction, call: SlashCall, secrets: Mapping[str, str]
    ) -> None:
        if await turned_away(
            interaction, self._gate, self._service.server_rules
        ):  # refused since the form opened
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self._execute(interaction, call, secrets)

    async def _execute(
        self, interaction: discord.Interaction, call: SlashCall, secrets: Mapping[str, str]
    ) -> None:
        channel = talkable(interaction.channel)
        if channel is None:
            await interaction.edit_original_response(content="I can't talk in this channel.")
            return
        if call.spec.permission >= Permission.CHANNEL_ADMIN and interaction.guild_id is None:
            await interaction.edit_original_response(content=SERVERS_ONLY)
            return
        try:
            files = tuple([await _download(f) for f in call.files])
        except UsageError as exc:
            await interaction.edit_original_response(content=str(exc))
            return
        command = self._call(
            interaction, channel, call.spec.name, {**call.options, **secrets}, files
        )
        if streams(command.name):
            await self._rewrite(channel, command)
            await _quietly(interaction.delete_original_response())
            return
        result = await self._service.run_command(command)
        await self._answer(interaction, channel, result)

    async def _answer(
        self, interaction: discord.Interaction, channel: Channel, result: CommandResult
    ) -> None:
        if not result.ephemeral:  # the channel's: a greeting, another version of a reply
            await self._post(channel, result.text, result.speaker is not None)
            await _quietly(interaction.delete_original_response())
            return
        parts = split_for_limit(result.text, LIMITS.max_length) or ["Done."]
        if result.confirmation is not None:  # the prompt and its button, to the caller alone
            view = buttons.confirming(result.confirmation)
            await interaction.edit_original_response(content=parts[0], view=view)
            return
        await interaction.edit_original_response(content=parts[0])
        for part in parts[1:]:
            await interaction.followup.send(part, ephemeral=True)
        if result.file is not None:
            upload = discord.File(io.BytesIO(result.file.data), filename=result.file.filename)
            await interaction.followup.send(file=upload, ephemeral=True)

    def _call(
        self,
        interaction: discord.Interaction,
        channel: Channel,
        name: str,
        options: Mapping[str, str],
        files: tuple[Attachment, ...] = (),
    ) -> CommandCall:
        return CommandCall(
            name,
            dict(options),
            channel_key(channel),
            actor_of(interaction, self._operators),
            server=server_of(channel),
            attachments=files,
        )


def refusal_of(interaction: discord.Interaction, gate: AccessGate) -> Refusal | None:
    server = interaction.guild_id
    return gate.refusal(interaction.user.id, server, private=server is None)


async def turned_away(
    interaction: discord.Interaction, gate: AccessGate, rules_of: RulesOf
) -> bool:
    """Whether the operator, or the server's own rules (/access), refuse whoever did this
    here; if so they are told why, ephemerally.

    Told every time, not once per window: an interaction must be answered (or Discord
    shows it failed), and an ephemeral answer to one's own command bothers no one else.
    """
    refusal = refusal_of(interaction, gate)
    channel = talkable(interaction.channel)
    if refusal is None and channel is not None:
        permission = permission_of(interaction, gate.policy.operators)
        refusal = await server_refusal(rules_of, channel, interaction.user, permission)
    if refusal is None:
        return False
    _log.debug("discord: refused an interaction (%s)", refusal.reason.value)
    await interaction.response.send_message(refusal.text, ephemeral=True)
    return True


async def _download(attachment: discord.Attachment) -> Attachment:
    if attachment.size > MAX_FILE_BYTES:
        raise UsageError(
            f"{attachment.filename} is over 20 MB, more than any file a command reads. "
            "Nothing was changed."
        )
    try:
        data = await attachment.read()
    except discord.HTTPException:
        raise UsageError(f"I could not download {attachment.filename}; try again.") from None
    kind = attachment.content_type or "application/octet-stream"
    return Attachment(attachment.filename, kind, data)


async def _quietly(call: Awaitable[None]) -> None:
    """A clean-up Discord may refuse (the placeholder already gone): not worth an error."""
    try:
        await call
    except discord.HTTPException as exc:
        _log.debug("discord: a clean-up was refused (HTTP %s)", exc.status)
