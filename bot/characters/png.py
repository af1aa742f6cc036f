"""PNG chunk surgery: find the text chunks a card lives in, unpack them, and write new ones.

Knows the PNG container only (signature, chunks, CRC-32), not what a card's text means.
Every chunk is checked before anything is trusted, so a cut or damaged file is a
`CardError` the user can act on rather than a wrong card. The walk keeps offsets, not
copies, and stops at `MAX_PNG_CHUNKS`, so a file of a million tiny chunks costs a few
milliseconds and no memory; text is unpacked only for the card's own chunks, within
`MAX_CARD_TEXT_BYTES`.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from typing import NamedTuple, NoReturn

from bot.characters.errors import (
    MAX_CARD_TEXT_BYTES,
    MAX_PNG_CHUNKS,
    CardError,
    too_many,
    unpacks_too_large,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = ("chara", "ccv3")
"""The keywords of the chunks a card is written to, in the order SillyTavern writes them."""

_TEXT_TYPES = frozenset({b"tEXt", b"zTXt", b"iTXt"})
_MAX_CHUNK_BYTES = 2**31 - 1  # the PNG specification's bound on a chunk's length
_PLACEHOLDER_SIDE_PIXELS = 64
_PLACEHOLDER_GREY = 0x80
_CUT_SHORT = "The PNG file is cut short. Download or export the card again."


class Chunk(NamedTuple):
    """Where one chunk sits in the file: `start` is its length field, `end` just past its CRC."""

    type: bytes
    start: int
    end: int

    def data(self, png: bytes) -> bytes:
        return png[self.start + 8 : self.end - 4]


class CardChunks(NamedTuple):
    """A PNG's card chunks (the first of each keyword, lower-cased) and the image without any.

    `iend` is where the image's last chunk, IEND, starts in `image`.
    """

    found: dict[str, Chunk]
    image: bytes
    iend: int


def chunks(png: bytes) -> Iterator[Chunk]:
    """Every chunk up to and including IEND, each one's structure and CRC checked.

    Bytes after IEND are dropped: viewers ignore them, and so do we.
    """
    if not png.startswith(PNG_SIGNATURE):
        raise CardError("The file is not a PNG image.")
    view = memoryview(png)  # CRCs are computed over slices of it: no chunk is copied
    pos = len(PNG_SIGNATURE)
    for count in range(MAX_PNG_CHUNKS):
        if pos + 8 > len(png):
            raise CardError(_CUT_SHORT)
        (length,) = struct.unpack_from(">I", png, pos)
        kind = png[pos + 4 : pos + 8]
        if length > _MAX_CHUNK_BYTES or not kind.isalpha() or not kind.isascii():
            raise CardError("The PNG file is damaged (a chunk header makes no sense).")
        end = pos + 12 + length
        if end > len(png):
            raise CardError(_CUT_SHORT)
        (crc,) = struct.unpack_from(">I", png, end - 4)
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            raise CardError(
                f"The PNG file is damaged (its {kind.decode('ascii')} chunk fails its checksum). "
                "Download or export the card again."
            )
        if count == 0 and kind != b"IHDR":
            raise CardError("The PNG file is damaged (it does not start with a header chunk).")
        yield Chunk(kind, pos, end)
        if kind == b"IEND":
            return
        pos = end
    raise too_many(
        "The PNG",
        "chunks",
        MAX_PNG_CHUNKS,
        hint="Open the picture in an image editor, save it again, and put the card back in it.",
    )


def text_keyword(png: bytes, chunk: Chunk) -> str | None:
    """The lower-cased keyword of a text chunk; None for other chunks and malformed ones.

    Lower-cased because SillyTavern compares keywords case-insensitively.
    """
    if chunk.type not in _TEXT_TYPES:
        return None
    nul = png.find(b"\0", chunk.start + 8, min(chunk.end - 4, chunk.start + 88))
    if nul <= chunk.start + 8:  # no NUL in the 80 bytes a keyword may take, or an empty one
        return None
    return png[chunk.start + 8 : nul].decode("latin-1").lower()


def find_card_chunks(png: bytes) -> CardChunks:
    """The first text chunk of each card keyword, and the image with every card chunk cut out.

    The first wins because that is the one SillyTavern reads. SillyTavern reads only
    `tEXt`, so a `tEXt` chunk wins over a `zTXt` or `iTXt` one of the same keyword; those
    are read only when there is no `tEXt` (some tools write a card that way).
    """
    found: dict[str, Chunk] = {}
    kept: list[tuple[int, int]] = [(0, len(PNG_SIGNATURE))]
    iend = 0
    for chunk in chunks(png):
        iend = sum(end - start for start, end in kept) if chunk.type == b"IEND" else iend
        keyword = text_keyword(png, chunk)
        if keyword in CARD_KEYWORDS:
            first = found.get(keyword)
            if first is None or (first.type != b"tEXt" and chunk.type == b"tEXt"):
                found[keyword] = chunk
        elif kept[-1][1] == chunk.start:  # contiguous with what is kept: extend, do not copy
            kept[-1] = (kept[-1][0], chunk.end)
        else:
            kept.append((chunk.start, chunk.end))
    return CardChunks(found, b"".join(png[start:end] for start, end in kept), iend)


def chunk_text(png: bytes, chunk: Chunk) -> bytes:
    """The text of a `tEXt`, `zTXt` or `iTXt` chunk, unpacked if it is compressed.

    Unpacking stops at `MAX_CARD_TEXT_BYTES`: a kilobyte that inflates to a gigabyte is
    refused after ten megabytes of work, not after a gigabyte.
    """
    keyword, _, rest = chunk.data(png).partition(b"\0")
    name = keyword.decode("latin-1")
    if chunk.type == b"tEXt":
        return rest
    if chunk.type == b"zTXt":
        return _inflate(rest[1:], name) if rest[:1] == b"\0" else _damaged(name)
    flag, method, rest = rest[:1], rest[1:2], rest[2:]
    language_nul = rest.find(b"\0")
    translated_nul = rest.find(b"\0", language_nul + 1)
    if language_nul < 0 or translated_nul < 0 or flag not in (b"\0", b"\1"):
        return _damaged(name)
    text = rest[translated_nul + 1 :]
    if flag == b"\0":
        return text
    return _inflate(text, name) if method == b"\0" else _damaged(name)


def _inflate(packed: bytes, name: str) -> bytes:
    inflater = zlib.decompressobj()
    try:
        text = inflater.decompress(packed, MAX_CARD_TEXT_BYTES + 1)
    except zlib.error:
        return _damaged(name)
    if len(text) > MAX_CARD_TEXT_BYTES:
        raise unpacks_too_large(f"The PNG's {name} chunk", MAX_CARD_TEXT_BYTES)
    if not inflater.eof:
        return _damaged(name)
    return text


def _damaged(name: str) -> NoReturn:
    raise CardError(
        f"The PNG's {name} chunk is damaged, so the card inside it cannot be read. "
        "Export the card again."
    )


def read_text_chunks(png: bytes) -> dict[str, str]:
    """Every `tEXt` chunk as keyword → text, keywords lower-cased; the first wins.

    Plain `tEXt` only, so that nothing is unpacked: for looking inside a file, not for
    reading a card (`find_card_chunks` and `chunk_text` do that, within the limits).
    """
    texts: dict[str, str] = {}
    for chunk in chunks(png):
        keyword = text_keyword(png, chunk) if chunk.type == b"tEXt" else None
        if keyword is not None and keyword not in texts:
            texts[keyword] = chunk_text(png, chunk).decode("latin-1")
    return texts


def write_card_chunks(png: bytes, *, chara: str, ccv3: str) -> bytes:
    """The image carrying exactly one `chara` and one `ccv3` chunk, just before IEND.

    Old card chunks go first, whatever their case and type, so that a reader cannot find
    a stale card ahead of the new one; the order and placement are SillyTavern's. The
    texts are base64, so ASCII: anything else is a bug in the caller and raises.
    """
    image, iend = find_card_chunks(png)[1:]
    new = _chunk(b"tEXt", b"chara\0" + chara.encode("ascii"))
    new += _chunk(b"tEXt", b"ccv3\0" + ccv3.encode("ascii"))
    return image[:iend] + new + image[iend:]


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
