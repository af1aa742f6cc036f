"""`/model` with no name on Telegram: the endpoint's models as a paged inline keyboard.

Callback data holds at most 64 bytes, so a button carries the model's position in the
list and a short checksum of its id; a press looks the list up again and takes the id
only if the checksum still matches, so a list that changed in between never picks the
wrong model.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

PAGE_SIZE = 8
MAX_MODELS = 400
_PREFIX = "p1:m:"
LABEL_CHARS = 60


@dataclass(frozen=True, slots=True)
class PickerPress:
    page: int | None = None  # turn to this page
    index: int | None = None  # or choose this model
    check: str = ""


def checksum(model: str) -> str:
    return f"{zlib.crc32(model.encode()) & 0xFFFFFF:06x}"


def picker(models: list[str], page: int) -> InlineKeyboardMarkup:
    """One page of model buttons, and arrows to the others when there are more."""
    models = models[:MAX_MODELS]
    pages = max(1, -(-len(models) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    start = page * PAGE_SIZE
    rows = [
        [InlineKeyboardButton(_label(model), callback_data=f"{_PREFIX}s:{index}:{checksum(model)}")]
        for index, model in enumerate(models[start : start + PAGE_SIZE], start)
    ]
    if pages > 1:
        rows.append(
            [
                InlineKeyboardButton("◀", callback_data=f"{_PREFIX}p:{(page - 1) % pages}"),
                InlineKeyboardButton(f"{page + 1}/{pages}", callback_data=f"{_PREFIX}p:{page}"),
                InlineKeyboardButton("▶", callback_data=f"{_PREFIX}p:{(page + 1) % pages}"),
            ]
        )
    return InlineKeyboardMarkup(rows)


def read_picker(data: str | None) -> PickerPress | None:
    if not data or not data.startswith(_PREFIX):
        return None
    kind, _, rest = data.removeprefix(_PREFIX).partition(":")
    number, _, check = rest.partition(":")
    if not number.isdigit():
        return None
    if kind == "p":
        return PickerPress(page=int(number))
    if kind == "s" and check:
        return PickerPress(index=int(number), check=check)
    return None


def chosen(models: list[str], press: PickerPress) -> str | None:
    """The model a press stands for, if the list still has it where the button said."""
    if press.index is None:
        return None
    models = models[:MAX_MODELS]
    if press.index < len(models) and checksum(models[press.index]) == press.check:
        return models[press.index]
    return next((m for m in models if checksum(m) == press.check), None)


def _label(model: str) -> str:
    return model if len(model) <= LABEL_CHARS else model[: LABEL_CHARS - 1] + "…"
