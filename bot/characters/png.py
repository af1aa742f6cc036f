"""PNG chunk surgery: read the `tEXt` chunks a card lives in, and write new ones.

Knows the PNG container only (signature, chunks, CRC-32), not what a card's text means.
Every chunk is checked before anything is trusted, so a cut or damaged file is a
`CardError` the user can act on rather than a wrong card.
"""

from __future__ import annotations

import struct
import zlib
from typing import NamedTuple

from bot.characters.errors import CardError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = ("chara", "ccv3")
"""The keywords of the chunks a card is written to, in the order SillyTavern writes them."""

_MAX_CHUNK_BYTES = 2**31 - 1  # the PNG specification's bound on a chunk's length
_PLACEHOLDER_SIDE_PIXELS = 64
_PLACEHOLDER_GREY = 0x80
_CUT_SHORT = "The PNG file is cut short. Download or export the card again."


class Chunk(NamedTuple):
    """One chunk as it sits in the file; `raw` is its exact bytes, length and CRC included."""

    type: bytes
    data: bytes
    raw: bytes


def chunks(png: bytes) -> list[Chunk]:
    """Every chunk up to and including IEND, each one's structure and CRC checked.

    Bytes after IEND are dropped: viewers ignore them, and so do we.
    """
    if not png.startswith(PNG_SIGNATURE):
        raise CardError("The file is not a PNG image.")
    found: list[Chunk] = []
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 8 > len(png):
            raise CardError(_CUT_SHORT)
        (length,) = struct.unpack_from(">I", png, pos)
        kind = png[pos + 4 : pos + 8]
        if length > _MAX_CHUNK_BYTES or not kind.isalpha() or not kind.isascii():
            raise CardError("The PNG file is damaged (a chunk header makes no sense).")
        end = pos + 12 + length
        if end > len(png):
            raise CardError(_CUT_SHORT)
        data = png[pos + 8 : end - 4]
        (crc,) = struct.unpack_from(">I", png, end - 4)
        if zlib.crc32(kind + data) != crc:
            name = kind.decode("ascii")
            raise CardError(
                f"The PNG file is damaged (its {name} chunk fails its checksum). "
                "Download or export the card again."
            )
        if not found and kind != b"IHDR":
            raise CardError("The PNG file is damaged (it does not start with a header chunk).")
        found.append(Chunk(kind, data, png[pos:end]))
        if kind == b"IEND":
            return found
        pos = end


def text_keyword(chunk: Chunk) -> str | None:
    """The lower-cased keyword of a `tEXt` chunk; None for other chunks and malformed ones."""
    if chunk.type != b"tEXt":
        return None
    keyword, nul, _ = chunk.data.partition(b"\0")
    if not nul or not keyword:
        return None
    return keyword.decode("latin-1").lower()


def read_text_chunks(png: bytes) -> dict[str, str]:
    """The `tEXt` chunks as keyword → text, keywords lower-cased; the first of a keyword wins.

    Lower-cased because SillyTavern compares keywords case-insensitively, and the
    first wins because that is the one it reads. tEXt is Latin-1 by definition.
    """
    texts: dict[str, str] = {}
    for chunk in chunks(png):
        keyword = text_keyword(chunk)
        if keyword is not None and keyword not in texts:
            texts[keyword] = chunk.data.partition(b"\0")[2].decode("latin-1")
    return texts


def without_card_chunks(png: bytes) -> bytes:
    """The image with every `chara` and `ccv3` text chunk removed, all else byte for byte."""
    kept = [c.raw for c in chunks(png) if text_keyword(c) not in CARD_KEYWORDS]
    return PNG_SIGNATURE + b"".join(kept)


def write_card_chunks(png: bytes, *, chara: str, ccv3: str) -> bytes:
    """The image carrying exactly one `chara` and one `ccv3` chunk, just before IEND.

    Old card chunks go first, whatever their case, so that a reader cannot find a
    stale card ahead of the new one; the order and placement are SillyTavern's. The
    texts are base64, so ASCII: anything else is a bug in the caller and raises.
    """
    kept = [c.raw for c in chunks(png) if text_keyword(c) not in CARD_KEYWORDS]
    new = [_chunk(b"tEXt", b"chara\0" + chara.encode("ascii"))]
    new.append(_chunk(b"tEXt", b"ccv3\0" + ccv3.encode("ascii")))
    return PNG_SIGNATURE + b"".join(kept[:-1] + new + kept[-1:])


def placeholder_png() -> bytes:
    """A plain grey square, for exporting as PNG a card that came without an image."""
    side = _PLACEHOLDER_SIDE_PIXELS
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = (b"\0" + bytes([_PLACEHOLDER_GREY]) * side) * side  # filter byte 0 per row
    return (
        PNG_SIGNATURE
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 9))
        + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
