"""Macro substitution (`{{char}}`, `{{user}}`, dates, dice…) in card text and prompts.

The macros and their order are in docs/prompt.md §2; knows the names and the clock it is
given, nothing else.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from datetime import datetime

_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Substituted values wait behind these private-use characters until the very end, so no later
# pass can read them; the input's own private-use characters are parked the same way.
_OPEN, _CLOSE = "\ue000", "\ue001"
_PRIVATE = re.compile(f"[{_OPEN}{_CLOSE}]")
_PARKED = re.compile(f"{_OPEN}(\\d+){_CLOSE}")

_I = re.IGNORECASE
_LEGACY = re.compile(r"<(USER|BOT|CHAR|CHARIFNOTGROUP|GROUP)>", _I)
_NEWLINE = re.compile(r"\{\{newline\}\}", _I)
_TRIM = re.compile(r"\n*\{\{trim\}\}\n*", _I)
_NOOP = re.compile(r"\{\{noop\}\}", _I)
_ORIGINAL = re.compile(r"\{\{original\}\}", _I)
_NAMES = re.compile(r"\{\{(user|char|group|charIfNotGroup|model)\}\}", _I)
_CLOCK = re.compile(r"\{\{(date|time|weekday|isodate|isotime)\}\}", _I)
_RANDOM = re.compile(r"\{\{random\s?::?([^}]+)\}\}", _I)
_PICK = re.compile(r"\{\{pick\s?::?([^}]+)\}\}", _I)
_ROLL = re.compile(r"\{\{roll[ :]([^}]+)\}\}", _I)
# Digit counts are capped: int() refuses strings over 4300 digits, and no die needs them.
_DICE = re.compile(r"\s*(\d{0,3})d(\d{1,9})\s*(?:([+-])\s*(\d{1,9}))?\s*", _I)
_COMMENT = re.compile(r"\{\{(?://|comment:)[\s\S]*?\}\}", _I)
_ESCAPED_COMMA = re.compile(r"\\,")

MAX_DICE = 100  # more than this in one {{roll}} is no roll a card needs; it stays as written
_COMMA_STAND_IN = "\x00"
_LEGACY_NAMES = {
    "user": "user",
    "bot": "char",
    "char": "char",
    "charifnotgroup": "group",
    "group": "group",
}


@dataclass(frozen=True, slots=True)
class MacroContext:
    """What the macros may read.

    `seed` makes the chance macros repeatable: `{{random}}` and `{{roll}}` draw from one
    generator seeded with it (every random in text order, then every roll); `{{pick}}` draws
    from a generator of its own (see `_pick`), so it keeps its choice while the seed holds.
    `group` holds the member names of a multi-user channel; empty means a 1:1 chat.
    """

    char: str
    user: str
    now: datetime
    seed: int = 0
    model: str = ""
    group: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # A naive time would print the host's clock as if it were the user's.
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("MacroContext.now must be timezone-aware")


class _Parking:
    """Values already substituted, parked behind placeholders until `release`.

    Parking is what keeps the promise that a value is never re-scanned: a user named
    "{{char}}" stays "{{char}}", because the later passes only ever see a placeholder.
    """

    def __init__(self) -> None:
        self._values: list[str] = []

    def park(self, value: str) -> str:
        """A placeholder for `value`, which is taken as it is: never read for placeholders."""
        self._values.append(value)
        return f"{_OPEN}{len(self._values) - 1}{_CLOSE}"

    def park_text(self, text: str) -> str:
        """A placeholder for a piece of the text itself, whose own placeholders resolve now."""
        return self.park(self.release(text))

    def release(self, text: str) -> str:
        return _PARKED.sub(lambda m: self._values[int(m.group(1))], text)


def substitute(text: str, ctx: MacroContext, *, original: str | None = None) -> str:
    """`text` with its macros replaced, case-insensitively, step by step, and `\\r` removed.

    Unknown `{{…}}` macros are left as written, so an author sees what we did not understand.
    No substituted value is ever scanned for macros again: a persona or a model may be named
    anything without being expanded. This differs from the reference in one place: `original`
    is inserted as given, so a caller substitutes the original prompt first (the reference
    expands the macros inside it afterwards, which gives the same text, chance macros aside).
    Only the first `{{original}}` receives `original`; later ones, or all of them when
    `original` is None, become "".
    """
    parking = _Parking()
    text = _PRIVATE.sub(lambda m: parking.park(m.group()), text.replace("\r", ""))
    text = _legacy_tags(text, ctx, parking)
    text = _layout(text)
    text = _original(text, original, parking)
    text = _NAMES.sub(lambda m: parking.park(_name(m.group(1), ctx)), text)
    text = _CLOCK.sub(lambda m: parking.park(_clock(m.group(1), ctx.now)), text)
    text = _chance(text, ctx, parking)
    text = _COMMENT.sub("", text)
    return parking.release(text).replace("\r", "")


def _legacy_tags(text: str, ctx: MacroContext, parking: _Parking) -> str:
    """Step 1: the pre-`{{}}` tags some old cards use, `<USER>` and `<BOT>` above all."""
    return _LEGACY.sub(lambda m: parking.park(_name(_LEGACY_NAMES[m.group(1).lower()], ctx)), text)


def _layout(text: str) -> str:
    """Step 2: `{{newline}}`, `{{trim}}`, `{{noop}}`.

    Their results are plain text, not parked: `{{trim}}` must see the newlines that
    `{{newline}}` made, as in the reference.
    """
    text = _NEWLINE.sub("\n", text)
    text = _TRIM.sub("", text)
    return _NOOP.sub("", text)


def _original(text: str, original: str | None, parking: _Parking) -> str:
    """Step 3: only the first `{{original}}` gets the text; a second copy helps no one."""
    left = [original or ""]

    def first_only(_: re.Match[str]) -> str:
        return parking.park(left.pop() if left else "")

    return _ORIGINAL.sub(first_only, text)


def _name(macro: str, ctx: MacroContext) -> str:
    """Step 4: who is talking; `{{group}}` is the character alone in a 1:1 chat."""
    match macro.lower():
        case "user":
            return ctx.user
        case "char":
            return ctx.char
        case "model":
            return ctx.model
        case _:  # group, charifnotgroup
            return ", ".join(ctx.group) if ctx.group else ctx.char


def _clock(macro: str, now: datetime) -> str:
    """Step 5, time: English names whatever the host's locale (strftime's %B is not)."""
    match macro.lower():
        case "date":
            return f"{_MONTHS[now.month - 1]} {now.day}, {now.year}"
        case "time":
            return f"{now.hour % 12 or 12}:{now.minute:02d} {'AM' if now.hour < 12 else 'PM'}"
        case "weekday":
            return _WEEKDAYS[now.weekday()]
        case "isodate":
            return f"{now.year:04d}-{now.month:02d}-{now.day:02d}"
        case _:  # isotime
            return f"{now.hour:02d}:{now.minute:02d}"


def _chance(text: str, ctx: MacroContext, parking: _Parking) -> str:
    """Step 6, chance: `{{random}}`, `{{pick}}`, `{{roll}}`; seeded, so tests can pin them."""
    draws = random.Random(ctx.seed)  # noqa: S311 - flavour text, not security
    text = _RANDOM.sub(lambda m: parking.park_text(draws.choice(_options(m.group(1)))), text)
    ordinals = itertools.count()
    text = _PICK.sub(lambda m: parking.park_text(_pick(m.group(1), ctx.seed, next(ordinals))), text)
    return _ROLL.sub(lambda m: _roll(m, draws, parking), text)


def _options(spec: str) -> list[str]:
    """`a::b` splits on `::` as is; otherwise on commas (`\\,` is a literal one), trimmed."""
    if "::" in spec:
        return spec.split("::")
    spec = _ESCAPED_COMMA.sub(_COMMA_STAND_IN, spec)
    return [item.strip().replace(_COMMA_STAND_IN, ",") for item in spec.split(",")]


def _pick(spec: str, seed: int, ordinal: int) -> str:
    """Like `{{random}}`, but the same pick in the same place keeps its choice.

    The reference seeds a pick with the chat, the whole text and the pick's offset, so any
    edit elsewhere in a card reshuffles it; we seed with the pick's own list and its ordinal,
    so it changes only when the seed, that pick or the number of picks before it does.
    """
    options = _options(spec)
    key = "\x1f".join([str(seed), str(ordinal), *options])
    return random.Random(key).choice(options)  # noqa: S311 - flavour text, not security


def _roll(match: re.Match[str], draws: random.Random, parking: _Parking) -> str:
    """`{{roll:N}}` is `1dN`; `XdN+M` works too. A formula we cannot roll stays as written.

    (The reference prints nothing for a bad formula; leaving it shows the author the typo.)
    """
    formula = match.group(1)
    dice = _DICE.fullmatch(formula if "d" in formula.lower() else f"d{formula.strip()}")
    if dice is None:
        return match.group()
    count, sides = int(dice.group(1) or "1"), int(dice.group(2))
    if not 1 <= count <= MAX_DICE or sides < 1:
        return match.group()
    total = sum(draws.randint(1, sides) for _ in range(count))
    if dice.group(3):
        total += int(dice.group(4)) * (1 if dice.group(3) == "+" else -1)
    return parking.park(str(total))
