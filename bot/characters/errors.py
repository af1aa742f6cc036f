"""The one error a bad card file raises, and the size limits that guard the readers.

Knows nothing of formats; every reader in this package raises `CardError` and nothing else.
"""

from __future__ import annotations

from bot.errors import UsageError

MIB = 1024 * 1024
MAX_CARD_FILE_BYTES = 20 * MIB
"""A whole PNG or CHARX file; cards with big avatars run to a few MiB, so this leaves room."""
MAX_CARD_JSON_BYTES = 5 * MIB
"""The card's JSON text once decoded; the largest lorebook-heavy cards stay well under 2 MiB."""
MAX_NAME_CHARS = 200
"""A name goes into every prompt and every platform message header; longer is a broken card."""


class CardError(UsageError):
    """A card file could not be read; its text says what is wrong and what to do about it.

    A `UsageError`, so that `bot.errors.user_message` shows its text to the user as it is.
    """


def too_large(size: int, limit: int) -> CardError:
    """The error for a file or text over `limit` bytes, in megabytes a user can compare."""
    return CardError(
        f"The card is too large ({size / MIB:.1f} MB; the limit is {limit / MIB:.0f} MB)."
    )
