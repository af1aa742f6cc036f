"""PNG text chunks: reading, replacing the card chunks, and refusing damaged files."""

from __future__ import annotations

import struct
import zlib

import pytest

from bot.characters.errors import CardError
from bot.characters.png import placeholder_png, read_text_chunks, write_card_chunks
from tests.characters.samples import PNG_SIGNATURE, chunk, text_chunk, tiny_png


def walk(png: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) of each chunk, checking every CRC: independent of the code under test."""
    assert png.startswith(PNG_SIGNATURE)
    found, pos = [], 8
    while pos < len(png):
        (length,) = struct.unpack_from(">I", png, pos)
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack_from(">I", png, pos + 8 + length)
        assert crc == zlib.crc32(kind + data), kind
        found.append((kind, data))
        pos += 12 + length
    return found


def test_keywords_are_lower_cased() -> None:
    """A `CHARA` chunk is found under `chara`, as SillyTavern finds it."""
    png = tiny_png(text_chunk("CHARA", "abc"), text_chunk("Ccv3", "def"))
    texts = read_text_chunks(png)
    assert texts["chara"] == "abc"
    assert texts["ccv3"] == "def"
    assert texts["software"] == "a card editor"


def test_first_chunk_of_a_keyword_wins() -> None:
    """Of two chunks with the same keyword, the first is the one read."""
    png = tiny_png(text_chunk("chara", "first"), text_chunk("Chara", "second"))
    assert read_text_chunks(png)["chara"] == "first"


def test_written_chunks_sit_before_iend_chara_first() -> None:
    """The new card chunks are the last before IEND: chara, then ccv3, with valid CRCs."""
    png = write_card_chunks(tiny_png(), chara="QUJD", ccv3="REVG")
    kinds = [(kind, data) for kind, data in walk(png)]
    assert kinds[-3:] == [(b"tEXt", b"chara\0QUJD"), (b"tEXt", b"ccv3\0REVG"), (b"IEND", b"")]
    assert kinds[0][0] == b"IHDR"


def test_writing_replaces_old_card_chunks_of_any_case() -> None:
    """Old chara/ccv3 chunks go, whatever their case; other text chunks stay."""
    old = tiny_png(text_chunk("Chara", "old"), text_chunk("CCV3", "old"), text_chunk("Title", "t"))
    png = write_card_chunks(old, chara="bmV3", ccv3="bmV3")
    texts = [data for kind, data in walk(png) if kind == b"tEXt"]
    assert texts == [b"Software\0a card editor", b"Title\0t", b"chara\0bmV3", b"ccv3\0bmV3"]


def test_image_chunks_survive_writing_byte_for_byte() -> None:
    """Writing a card leaves the picture itself untouched."""
    before = tiny_png(colour=17)
    after = write_card_chunks(before, chara="eA==", ccv3="eA==")
    image = [c for c in walk(before) if c[0] in (b"IHDR", b"IDAT")]
    assert [c for c in walk(after) if c[0] in (b"IHDR", b"IDAT")] == image


def test_placeholder_is_a_valid_grey_square() -> None:
    """The placeholder decodes: a 64x64 8-bit greyscale image of one grey."""
    chunks = dict(walk(placeholder_png()))
    width, height, depth, colour = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, colour) == (64, 64, 8, 0)
    assert zlib.decompress(chunks[b"IDAT"]) == (b"\0" + b"\x80" * 64) * 64


def test_truncated_png_is_refused() -> None:
    """A file cut mid-chunk says it is cut short."""
    png = write_card_chunks(tiny_png(), chara="QUJD", ccv3="REVG")
    for cut in (10, 30, len(png) - 13, len(png) - 1):
        with pytest.raises(CardError, match="cut short"):
            read_text_chunks(png[:cut])


def test_wrong_crc_is_refused() -> None:
    """A chunk whose checksum does not match is named as damaged."""
    png = bytearray(tiny_png(text_chunk("chara", "QUJD")))
    png[png.index(b"QUJD")] ^= 0x01
    with pytest.raises(CardError, match=r"damaged \(its tEXt chunk fails its checksum\)"):
        read_text_chunks(bytes(png))


def test_png_must_start_with_a_header_chunk() -> None:
    """Chunks in a nonsensical order are refused rather than guessed at."""
    png = PNG_SIGNATURE + chunk(b"IEND", b"")
    with pytest.raises(CardError, match="damaged"):
        read_text_chunks(png)


def test_other_files_are_not_pngs() -> None:
    """Without the signature nothing is parsed."""
    with pytest.raises(CardError, match="not a PNG"):
        read_text_chunks(b"GIF89a" + b"\0" * 20)
