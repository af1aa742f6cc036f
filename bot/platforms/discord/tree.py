"""The slash commands, generated from the command catalogue (bot.core.commands), never by hand.

Each CommandSpec becomes one app command whose options keep their names, kinds, choices
and autocomplete sources. Two Discord-specific rules:

- A secret option (an API key, auth headers) is a yes/no option here: yes opens a form
  (a modal) that takes the value, so it never sits in the slash command's visible option
  history.
- Commands that change settings (Manage Channels and up) are server-only and carry
  default permissions, a hint for server admins' menus; the real check happens on every
  call (access.py, and the service).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import discord
from discord import app_commands

from bot.core.commands import CATALOGUE, CommandSpec, OptionKind, OptionSpec
from bot.core.domain import Permission
from bot.platforms.discord.access import default_permissions

MAX_DESCRIPTION = 100
MAX_CHOICES = 25
MAX_CHOICE_CHARS = 100
"""Discord's limits for a command's or option's description, and for autocomplete."""

_ANNOTATIONS: Mapping[OptionKind, type] = {
    OptionKind.TEXT: str,
    OptionKind.INTEGER: int,
    OptionKind.NUMBER: float,
    OptionKind.BOOLEAN: bool,
    OptionKind.ATTACHMENT: discord.Attachment,
}


@dataclass(frozen=True, slots=True)
class SlashCall:
    """A slash command as it arrived, in the catalogue's terms."""

    spec: CommandSpec
    options: dict[str, str] = field(default_factory=dict)
    files: tuple[discord.Attachment, ...] = ()
    secret_forms: tuple[OptionSpec, ...] = ()  # secret options the caller wants to type


Run = Callable[[discord.Interaction, SlashCall], Awaitable[None]]
Suggest = Callable[[discord.Interaction, CommandSpec, OptionSpec, str], Awaitable[list[str]]]


def build_commands(run: Run, suggest: Suggest) -> list[app_commands.Command[Any, ..., None]]:
    """One app command per catalogue entry."""
    return [_command(spec, run, suggest) for spec in CATALOGUE]


def read_call(spec: CommandSpec, values: Mapping[str, object]) -> SlashCall:
    """The options Discord filled in, as the service's text options."""
    options: dict[str, str] = {}
    files: list[discord.Attachment] = []
    forms: list[OptionSpec] = []
    for option in spec.options:
        value = values.get(option.name)
        if value is None:
            continue
        if option.secret:
            if value is True:
                forms.append(option)
        elif isinstance(value, discord.Attachment):
            files.append(value)
        elif isinstance(value, bool):
            options[option.name] = "true" if value else "false"
        else:
            options[option.name] = str(value)
    return SlashCall(spec, options, tuple(files), tuple(forms))


def choices_for(suggestions: list[str]) -> list[app_commands.Choice[str]]:
    """Autocomplete answers: at most 25, each name and value at most 100 characters (a
    longer value could not be sent back, so it is left out rather than cut)."""
    fitting = [s for s in suggestions if 0 < len(s) <= MAX_CHOICE_CHARS]
    return [app_commands.Choice(name=s, value=s) for s in fitting[:MAX_CHOICES]]


def _command(spec: CommandSpec, run: Run, suggest: Suggest) -> app_commands.Command[Any, ..., None]:
    async def callback(interaction: discord.Interaction, **values: object) -> None:
        await run(interaction, read_call(spec, values))

    callback.__name__ = callback.__qualname__ = f"slash_{spec.name}"
    parameters = [
        inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                          annotation=discord.Interaction)
    ]  # fmt: skip
    for option in spec.options:
        annotation: Any = bool if option.secret else _ANNOTATIONS[option.kind]
        parameters.append(
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                annotation=annotation if option.required else annotation | None,
                default=inspect.Parameter.empty if option.required else None,
            )
        )
    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    described = {o.name: _short(_describe(o)) for o in spec.options}
    callback.__discord_app_commands_param_description__ = described  # type: ignore[attr-defined]
    choices = {
        o.name: [app_commands.Choice(name=c, value=c) for c in o.choices]
        for o in spec.options
        if o.choices and not o.secret
    }
    callback.__discord_app_commands_param_choices__ = choices  # type: ignore[attr-defined]
    settings = spec.permission >= Permission.CHANNEL_ADMIN
    contexts = app_commands.AppCommandContext(guild=True, dm_channel=not settings)
    command: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=spec.name,
        description=_short(spec.description),
        callback=callback,
        allowed_contexts=contexts,
    )
    command.default_permissions = default_permissions(spec.permission)
    for option in spec.options:
        if option.autocomplete and not option.choices and not option.secret:
            command.autocomplete(option.name)(_autocompleter(spec, option, suggest))
    return command


def _autocompleter(
    spec: CommandSpec, option: OptionSpec, suggest: Suggest
) -> Callable[[discord.Interaction, str], Coroutine[Any, Any, list[app_commands.Choice[str]]]]:
    async def complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return choices_for(await suggest(interaction, spec, option, current))

    return complete


def _describe(option: OptionSpec) -> str:
    if option.secret:
        return f"True: type it in a private form. {option.description}"
    return option.description


def _short(text: str) -> str:
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
