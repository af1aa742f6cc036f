"""The inline buttons under a Telegram reply; what a press means is shared
(bot.platforms.common.button_presses)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.domain import Confirmation
from bot.platforms.common import button_presses
from bot.platforms.common.button_presses import LABELS, ButtonPress, button_data, read_button
from bot.platforms.common.confirmations import confirmation_data


def _row(keys: tuple[str, ...]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(LABELS[key], callback_data=button_data(key)) for key in keys]]
    )


STOP = _row(button_presses.WHILE_STREAMING)
AFTER_REPLY = _row(button_presses.AFTER_REPLY)


def confirming(confirmation: Confirmation) -> InlineKeyboardMarkup:
    """The one button under an answer that must be confirmed (/forget)."""
    data = confirmation_data(confirmation)
    return InlineKeyboardMarkup([[InlineKeyboardButton(confirmation.label, callback_data=data)]])


__all__ = ["AFTER_REPLY", "STOP", "ButtonPress", "confirming", "read_button"]
