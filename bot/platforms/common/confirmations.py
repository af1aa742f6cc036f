"""A confirmation's button on every platform: its data, and what a press of it does.

A command that must be confirmed (/forget) answers with a `Confirmation`; the platform
shows it as a button carrying "c1:<command>:<code>", short and versioned like the reply
buttons' "p1:…" (button_presses.py), well inside Telegram's 64 bytes. A press runs
`/<command> confirm:<code>` as the presser; the service alone decides whether that code
is theirs and still good. The answer either takes the prompt's place, its button gone,
or (a press by someone else) is told to the presser alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

from bot.core.domain import Actor, ChannelKey, CommandCall, Confirmation
from bot.core.ports import Conversations

PREFIX = "c1:"
MAX_DATA_BYTES = 64
"""Telegram's limit for a button's callback_data; Discord's custom_id allows 100."""
_DATA = re.compile(r"c1:(?P<command>[a-z_]{1,32}):(?P<code>[A-Za-z0-9_-]{1,43})")


@dataclass(frozen=True, slots=True)
class Press:
    """What a confirmation button stands for."""

    command: str
    code: str


def confirmation_data(confirmation: Confirmation) -> str:
    """The data the button carries."""
    data = f"{PREFIX}{confirmation.command}:{confirmation.code}"
    if len(data.encode()) > MAX_DATA_BYTES or _DATA.fullmatch(data) is None:
        raise ValueError("a confirmation's command and code must be short and plain")
    return data


def read_confirmation(data: str | None) -> Press | None:
    """The press behind a button's data, or None for data that is not a confirmation."""
    found = _DATA.fullmatch(data or "")
    return Press(found["command"], found["code"]) if found else None


class ConfirmationPressed(Protocol):
    """One press of a confirmation button, and the platform's two ways to answer it."""

    @property
    def channel(self) -> ChannelKey: ...

    @property
    def server(self) -> str | None: ...

    async def presser(self) -> Actor:
        """Who pressed, with their rights in this channel."""
        ...

    async def tell(self, text: str) -> None:
        """Say `text` to the presser alone; the prompt and its button stay."""
        ...

    async def close(self, text: str) -> None:
        """Show `text` in place of the prompt, without its button."""
        ...


async def confirm(service: Conversations, pressed: ConfirmationPressed, press: Press) -> None:
    """Run the confirmed command as the presser and show its answer."""
    call = CommandCall(
        press.command,
        {"confirm": press.code},
        pressed.channel,
        await pressed.presser(),
        server=pressed.server,
    )
    result = await service.run_command(call)
    if result.closes_confirmation:
        await pressed.close(result.text)
    else:
        await pressed.tell(result.text)
