"""The shape every command handler has, so families of commands can be merged into one table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.core.domain import CommandCall, CommandResult

Handler = Callable[[CommandCall], Awaitable[CommandResult]]
Handlers = dict[str, Handler]
