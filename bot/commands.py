"""The command catalogue: every command, its options and who may run it, defined once.

Adapters render this into native commands (slash commands, Telegram menus, the
console's `/name opt:value`); the service checks calls against it. It knows no
platform.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain import CommandCall, Permission
from bot.errors import PermissionDenied, UsageError


class OptionKind(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    description: str
    kind: OptionKind = OptionKind.TEXT
    required: bool = False
    secret: bool = False  # never echoed, never logged; adapters may collect it privately


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str
    description: str
    permission: Permission
    options: tuple[OptionSpec, ...] = ()

    def option(self, name: str) -> OptionSpec | None:
        return next((o for o in self.options if o.name == name), None)

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for option in self.options:
            parts.append(f"{option.name}:…" if option.required else f"[{option.name}:…]")
        return " ".join(parts)


CATALOGUE: tuple[CommandSpec, ...] = (
    CommandSpec(
        "connect",
        "Point this channel at an OpenAI-compatible endpoint (base_url:default goes back "
        "to the operator's endpoint).",
        Permission.SERVER_ADMIN,
        (
            OptionSpec("base_url", "Base URL, e.g. http://host:8080/v1", required=True),
            OptionSpec("api_key", "API key, stored encrypted and never shown again", secret=True),
            OptionSpec("model", "Model id to use"),
        ),
    ),
    CommandSpec(
        "model",
        "Show or choose the model this channel talks to.",
        Permission.CHANNEL_ADMIN,
        (OptionSpec("name", "Model id (see /models)"),),
    ),
    CommandSpec("models", "List the models the endpoint offers.", Permission.EVERYONE),
    CommandSpec("settings", "Show this channel's settings (the key masked).", Permission.EVERYONE),
    CommandSpec(
        "system",
        "Set this channel's system prompt; with no prompt, clear it.",
        Permission.CHANNEL_ADMIN,
        (OptionSpec("prompt", "The system prompt"),),
    ),
    CommandSpec(
        "reset", "Archive this conversation and start a new one.", Permission.CHANNEL_ADMIN
    ),
    CommandSpec("stop", "Stop the reply being written.", Permission.EVERYONE),
    CommandSpec("help", "List the commands.", Permission.EVERYONE),
)

_BY_NAME: Mapping[str, CommandSpec] = {spec.name: spec for spec in CATALOGUE}


def find_command(name: str) -> CommandSpec | None:
    return _BY_NAME.get(name.lower())


def check_call(call: CommandCall) -> CommandSpec:
    """The command's spec, once the call names a known command with valid options and rights.

    Raises UsageError for an unknown command or option, or a missing required
    option; PermissionDenied when the caller lacks the right.
    """
    spec = find_command(call.name)
    if spec is None:
        raise UsageError(f"There is no /{call.name} command. /help lists them.")
    if call.actor.permission < spec.permission:
        raise PermissionDenied(f"/{spec.name} needs {_permission_words(spec.permission)}.")
    for name in call.options:
        if spec.option(name) is None:
            known = ", ".join(o.name for o in spec.options) or "no options"
            raise UsageError(f"/{spec.name} has no option '{name}'; it takes {known}.")
    for option in spec.options:
        if option.required and not call.options.get(option.name, "").strip():
            raise UsageError(f"/{spec.name} needs {option.name}. Usage: {spec.usage}")
    return spec


def _permission_words(permission: Permission) -> str:
    return {
        Permission.EVERYONE: "no special rights",
        Permission.CHANNEL_ADMIN: "the right to manage this channel",
        Permission.SERVER_ADMIN: "the right to manage the server or group",
        Permission.OPERATOR: "the bot's operator",
    }[permission]
