"""The one error a bad card file raises, and the limits that guard the readers.

Knows nothing of formats; every reader in this package raises `CardError` and nothing else.
Every limit is checked before the work it bounds, so a hostile file costs no more time or
memory than an honest card at the limit.
"""

from __future__ import annotations

from bot.core.errors import UsageError

MIB = 1024 * 1024
MAX_CARD_FILE_BYTES = 20 * MIB
"""A whole PNG or CHARX file; cards with big avatars run to a few MiB, so this leaves room."""
MAX_CARD_JSON_BYTES = 5 * MIB
"""The card's JSON text once decoded; the largest lorebook-heavy cards stay well under 2 MiB."""
MAX_CARD_TEXT_BYTES = 2 * MAX_CARD_JSON_BYTES
"""A PNG text chunk once unpacked: base64 of the largest JSON (4/3 of it), with room for line
breaks, and no more however well the chunk compresses."""
MAX_CARD_JSON_VALUES = 250_000
"""Numbers, texts, lists and objects in a card's JSON. A lorebook of a thousand entries holds
about thirty thousand; five megabytes of `[]` would be 1.7 million, a second of work with
the interpreter held and a hundred megabytes of memory."""
MAX_PNG_CHUNKS = 20_000
"""Chunks in a PNG. Encoders cut the image data into chunks of 8 KB or more, so a 20 MB image
has about 2,600; an animation adds two per frame. Millions of tiny ones are an attack."""
MAX_CHARX_MEMBERS = 2_000
"""Files in a CHARX archive: the card and its assets (icons, emotions, backgrounds)."""
MAX_CHARX_DIRECTORY_BYTES = MIB
"""A CHARX archive's directory: a few hundred bytes per member at most for a real card. It
bounds the members `zipfile` reads whatever the count claims (46 bytes each at least)."""
MAX_NAME_CHARS = 200
"""A name goes into every prompt and every platform message header; longer is a broken card."""

_SMALLER = "Export it with a smaller picture, or as JSON."
_TRIM = "Trim its lorebook or example dialogue in your card editor and export it again."


class CardError(UsageError):
    """A card file could not be read; its text says what is wrong and what to do about it.

    A `UsageError`, so that `bot.core.errors.user_message` shows its text to the user as it is.
    """


def file_too_large(size: int) -> CardError:
    """The error for a card file over `MAX_CARD_FILE_BYTES`, in megabytes a user can compare."""
    return CardError(
        f"The card file is too large ({_mb(size)}; the limit is {_mb(MAX_CARD_FILE_BYTES)}). "
        + _SMALLER
    )


def json_too_large(size: int) -> CardError:
    """The error for card JSON over `MAX_CARD_JSON_BYTES` once out of its container."""
    return CardError(
        f"The card's text is too large ({_mb(size)}; the limit is {_mb(MAX_CARD_JSON_BYTES)}). "
        + _TRIM
    )


def unpacks_too_large(what: str, limit: int) -> CardError:
    """The error for compressed data (a zip member, a zTXt chunk) that unpacks past `limit`.

    The real size is never known: unpacking stops at the limit, which is the point.
    """
    return CardError(f"{what} unpacks to more than {_mb(limit)}, the limit. {_TRIM}")


def too_many(container: str, things: str, limit: int, *, hint: str) -> CardError:
    """The error for a count limit: "The PNG holds more than 20,000 chunks", then `hint`."""
    return CardError(
        f"{container} holds more than {limit:,} {things}, far more than a card needs. {hint}"
    )


def _mb(size: int) -> str:
    return f"{size / MIB:.1f} MB" if size % MIB else f"{size // MIB} MB"
