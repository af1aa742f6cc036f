"""/help, written from the command catalogue so it never drifts from it."""

from __future__ import annotations

from bot.core.commands import CATALOGUE
from bot.core.domain import CommandCall, CommandResult, Permission
from bot.service.commands.registry import answers


class HelpCommand:
    """/help: the commands the caller may run."""

    @answers("help")
    async def _help(self, call: CommandCall) -> CommandResult:
        return CommandResult(help_text(call.actor.permission))


def help_text(permission: Permission) -> str:
    """Commands the caller may run first; the rest are listed so people know whom to ask."""
    mine = [spec for spec in CATALOGUE if spec.permission <= permission]
    others = [spec for spec in CATALOGUE if spec.permission > permission]
    lines = ["Talk to me by writing a message. Commands:"]
    lines += [f"{spec.usage} — {spec.description}" for spec in mine]
    if others:
        lines.append("Admins can also use: " + ", ".join(f"/{spec.name}" for spec in others))
    return "\n".join(lines)
