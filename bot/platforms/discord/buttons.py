"""The buttons under a Discord reply, and the one listener that hears every press.

Messages carry display-only views: discord.py stores nothing per message. Presses are
heard by a single persistent view registered at start, matched by custom_id ("p1:…",
bot.platforms.common.button_presses), so the buttons of a reply sent before a restart still
work after it: what they act on (the channel's last reply) lives in the database.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import discord

from bot.core.domain import Confirmation
from bot.platforms.common import button_presses
from bot.platforms.common.button_presses import LABELS, PRESSES, ButtonPress, button_data
from bot.platforms.common.confirmations import confirmation_data

OnPress = Callable[[discord.Interaction, ButtonPress], Awaitable[None]]

_STYLES = {"stop": discord.ButtonStyle.danger, "regen": discord.ButtonStyle.primary}


class _Shown(discord.ui.View):
    """Buttons to show; never dispatched itself, so never stored per message."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        super().__init__(timeout=None)
        for key in keys:
            self.add_item(_button(key))

    def is_dispatchable(self) -> bool:
        return False


def while_streaming() -> discord.ui.View:
    return _Shown(button_presses.WHILE_STREAMING)


def after_reply() -> discord.ui.View:
    return _Shown(button_presses.AFTER_REPLY)


def confirming(confirmation: Confirmation) -> discord.ui.View:
    """The one button under an answer that must be confirmed (/forget). Its presses are
    heard by the adapter's `on_interaction` (its custom_id carries a one-time code, so no
    fixed listener can match it)."""
    view = _Shown(())
    view.add_item(
        discord.ui.Button(
            label=confirmation.label,
            custom_id=confirmation_data(confirmation),
            style=discord.ButtonStyle.danger,
        )
    )
    return view


class PressListener(discord.ui.View):
    """Registered once with `client.add_view`: hears every Parlor button, on any message."""

    def __init__(self, on_press: OnPress) -> None:
        super().__init__(timeout=None)
        for key in PRESSES:
            self.add_item(_Heard(key, on_press))


def _button(key: str) -> discord.ui.Button[discord.ui.View]:
    style = _STYLES.get(key, discord.ButtonStyle.secondary)
    return discord.ui.Button(label=LABELS[key], custom_id=button_data(key), style=style)


class _Heard(discord.ui.Button[discord.ui.View]):
    """One button of the listener: hands its press, read from the key, to `on_press`."""

    def __init__(self, key: str, on_press: OnPress) -> None:
        style = _STYLES.get(key, discord.ButtonStyle.secondary)
        super().__init__(label=LABELS[key], custom_id=button_data(key), style=style)
        self._press = PRESSES[key]
        self._on_press = on_press

    async def callback(self, interaction: discord.Interaction) -> None:
        await self._on_press(interaction, self._press)
