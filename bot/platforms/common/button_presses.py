"""What the buttons under a reply stand for, on every platform.

Stop shows while a reply streams; Regenerate, the two swipe arrows and Continue once it
is done. The data a button carries is short and versioned ("p1:…"), so buttons on old
messages are still read correctly after an upgrade or a restart, and anything else is
ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

PREFIX = "p1:"


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """The command a button stands for, and how its press behaves."""

    command: str
    options: Mapping[str, str] = field(default_factory=dict)
    acts_anywhere: bool = False
    """It works under any reply, not only the channel's latest (Stop: whatever is being
    written is stopped, wherever the button was pressed)."""
    shows_in_place: bool = False
    """Its answer replaces the pressed message's text, buttons kept (a swipe's version),
    rather than being said beside it."""


PRESSES: Mapping[str, ButtonPress] = {
    "stop": ButtonPress("stop", acts_anywhere=True),
    "regen": ButtonPress("regenerate"),
    "prev": ButtonPress("swipe", {"direction": "previous"}, shows_in_place=True),
    "next": ButtonPress("swipe", {"direction": "next"}, shows_in_place=True),
    "cont": ButtonPress("continue"),
}

LABELS: Mapping[str, str] = {
    "stop": "■ Stop",
    "prev": "◀",
    "regen": "↻ Regenerate",
    "next": "▶",
    "cont": "Continue ⏵",
}
WHILE_STREAMING = ("stop",)
AFTER_REPLY = ("prev", "regen", "next", "cont")
"""The buttons of each row, in order, by key."""


def button_data(key: str) -> str:
    """The data a button for `key` (one of PRESSES) carries."""
    if key not in PRESSES:
        raise KeyError(key)
    return PREFIX + key


def read_button(data: str | None) -> ButtonPress | None:
    """The press behind a button's data, or None for data that is not ours."""
    if not data or not data.startswith(PREFIX):
        return None
    return PRESSES.get(data.removeprefix(PREFIX))
