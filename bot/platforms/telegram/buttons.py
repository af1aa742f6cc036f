"""The inline buttons under a Telegram reply; what a press means is shared
(bot.platforms.common.button_presses)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.platforms.common import button_presses
from bot.platforms.common.button_presses import LABELS, ButtonPress, button_data, read_button


def _row(keys: tuple[str, ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(LABELS[key], callback_data=button_data(key)) for key in keys]]
    )


STOP = _row(button_presses.WHILE_STREAMING)
AFTER_REPLY = _row(button_presses.AFTER_REPLY)

__all__ = ["AFTER_REPLY", "STOP", "ButtonPress", "read_button"]
