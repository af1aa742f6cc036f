"""The command menu Telegram shows when a user types "/", made from the catalogue.

Telegram wants lowercase names of at most 32 characters and descriptions of 1 to 256.
"""

from __future__ import annotations

from telegram import BotCommand

from bot.core.commands import CATALOGUE

MAX_DESCRIPTION = 256
START = BotCommand("start", "What this bot does and how to talk to it")


def bot_commands() -> list[BotCommand]:
    commands = [START]
    for spec in CATALOGUE:
        description = spec.description.strip() or spec.name
        if len(description) > MAX_DESCRIPTION:
            description = description[: MAX_DESCRIPTION - 1] + "…"
        commands.append(BotCommand(spec.name, description))
    return commands
