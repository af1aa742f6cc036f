"""Reading a character card file of any kind: PNG, CHARX or JSON, told apart by content.

The entry point for imports. Knows which container holds the card's JSON and how to get
it out; what the JSON means is `schema`'s business, the PNG chunks are `png`'s.
"""

from __future__ import annotations

import base64
import binascii

from bot.characters.card import CharacterCard, ImportedCard
from bot.characters.charx import read_charx
from bot.characters.document import load_document
from bot.characters.errors import (
    MAX_CARD_FILE_BYTES,
    MAX_CARD_JSON_BYTES,
    MAX_NAME_CHARS,
    CardError,
    file_too_large,
    json_too_large,
)
from bot.characters.png import PNG_SIGNATURE, chunk_text, find_card_chunks
from bot.characters.schema import card_from_json, read_document

__all__ = [
    "MAX_CARD_FILE_BYTES",
    "MAX_CARD_JSON_BYTES",
    "MAX_NAME_CHARS",
    "CardError",
    "CharacterCard",
    "ImportedCard",
    "card_from_json",
    "read_card",
]

_ZIP_SIGNATURE = b"PK\x03\x04"
_JSON_LEADS = (b"{", b"\xef\xbb\xbf")  # an object, or a byte-order mark before one
_MAX_SHOWN_FILENAME_CHARS = 60
_BASE64_SPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0"
"""What `str.split()` splits Latin-1 text at: the whitespace a card chunk may carry."""
_BASE64_SLICE_BYTES = 256 * 1024  # a multiple of 4: each slice decodes on its own


def read_card(data: bytes, *, filename: str | None = None) -> ImportedCard:
    """The card in a file a user sent, told apart by content, not by name.

    `filename` only sends a `.json` file that does not start with `{` to the JSON
    reader (for a better error) and names the file in the error for an unknown kind.

    A PNG card's avatar is the image itself, minus the card chunks (export writes them
    afresh, and storage need not keep the JSON twice).
    """
    if len(data) > MAX_CARD_FILE_BYTES:
        raise file_too_large(len(data))
    if data.startswith(PNG_SIGNATURE):
        return _read_png(data)
    if data.startswith(_ZIP_SIGNATURE):
        return read_charx(data)
    is_json_name = filename is not None and filename.lower().endswith(".json")
    if data.lstrip().startswith(_JSON_LEADS) or is_json_name:
        card, warnings = read_document(load_document(data))
        return ImportedCard(card, None, warnings)
    raise CardError(
        f"{_shown(filename)} is not a PNG, JSON or CHARX file. Send a character card "
        "exported from a card editor such as SillyTavern, Chub or RisuAI."
    )


def _read_png(png: bytes) -> ImportedCard:
    """The card in the `ccv3` chunk, or in `chara` when there is no usable `ccv3`.

    When `ccv3` exists, SillyTavern reads nothing else. We fall back to `chara` when `ccv3`
    cannot be read, with a warning: the older copy is better than no card.
    """
    found, image, _ = find_card_chunks(png)
    keywords = [keyword for keyword in ("ccv3", "chara") if keyword in found]
    if not keywords:
        raise CardError(
            "The PNG has no character data (no chara or ccv3 text chunk): it is an "
            "ordinary image. Export the card from your card editor as PNG and send that."
        )
    notes: list[str] = []
    try:
        card, warnings = _read_chunk(keywords[0], chunk_text(png, found[keywords[0]]))
    except CardError as newer:
        if len(keywords) == 1:
            raise
        try:
            card, warnings = _read_chunk("chara", chunk_text(png, found["chara"]))
        except CardError:
            raise newer from None
        notes.append(f"The ccv3 chunk could not be read, so the older chara one was. {newer}")
    return ImportedCard(card, image, (*notes, *warnings))


def _read_chunk(keyword: str, text: bytes) -> tuple[CharacterCard, tuple[str, ...]]:
    """The card in a chunk's base64 text.

    Whitespace inside and missing padding are forgiven, as Node's decoder (SillyTavern's)
    forgives them; any other stray character means the chunk is damaged.
    """
    compact = text.translate(None, _BASE64_SPACE)  # in C: no list of a million pieces
    if len(compact) // 4 * 3 > MAX_CARD_JSON_BYTES:
        raise json_too_large(len(compact) // 4 * 3)
    padded = compact + b"=" * (-len(compact) % 4)
    try:  # in slices: one call on megabytes would keep other threads waiting for all of it
        raw = b"".join(
            base64.b64decode(padded[start : start + _BASE64_SLICE_BYTES], validate=True)
            for start in range(0, len(padded), _BASE64_SLICE_BYTES)
        )
    except binascii.Error as exc:
        raise CardError(
            f"The {keyword} chunk is not valid base64, so the card inside the PNG is damaged. "
            "Export the card again."
        ) from exc
    return read_document(load_document(raw))


def _shown(filename: str | None) -> str:
    if not filename:
        return "The file"
    printable = "".join(c for c in filename if c.isprintable())
    if len(printable) > _MAX_SHOWN_FILENAME_CHARS:
        printable = printable[: _MAX_SHOWN_FILENAME_CHARS - 1] + "…"
    return f'"{printable}"'
