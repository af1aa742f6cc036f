"""The inline buttons under a reply, and what a press asks the service to do.

Stop shows while a reply streams; Regenerate, the two swipe arrows and Continue once it
is done. Callback data is short and versioned ("p1:…"), so buttons on old messages are
still read correctly after an upgrade, and anything else is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

_PREFIX = "p1:"


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """The command a button stands for."""

    command: str
    options: Mapping[str, str] = field(default_factory=dict)


_PRESSES = {
    "stop": ButtonPress("stop"),
    "regen": ButtonPress("regenerate"),
    "prev": ButtonPress("swipe", {"direction": "previous"}),
    "next": ButtonPress("swipe", {"direction": "next"}),
    "cont": ButtonPress("continue"),
}


def _button(label: str, key: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=_PREFIX + key)


STOP = InlineKeyboardMarkup([[_button("■ Stop", "stop")]])
AFTER_REPLY = InlineKeyboardMarkup(
    [
        [
            _button("◀", "prev"),
            _button("↻ Regenerate", "regen"),
            _button("▶", "next"),
            _button("Continue ⏵", "cont"),
        ]
    ]
)


def read_button(data: str | None) -> ButtonPress | None:
    """The press behind callback data, or None for data that is not ours."""
    if not data or not data.startswith(_PREFIX):
        return None
    return _PRESSES.get(data.removeprefix(_PREFIX))
