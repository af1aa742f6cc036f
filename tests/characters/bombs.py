"""Hostile card files, built in memory in well under a second: chunk, zip and JSON bombs.

Written with the independent builders of `samples`, not with `bot.characters`, so that the
files are what an attacker would send, whatever our readers make of them.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile
import zlib
from functools import cache

from tests.characters.samples import b64json, chunk, text_chunk, tiny_png

MIB = 1024 * 1024
_STREAM_BLOCK_BYTES = MIB


def chunk_bomb(card: object, *, chunks: int, shape: str = "text") -> bytes:
    """A PNG of `chunks` tiny chunks, then a valid `chara` chunk holding `card`.

    Shapes: "text" (tEXt chunks with a one-letter keyword, the 19 MB attack), "empty"
    (an unknown ancillary chunk with no data) and "card" (alternating empty `chara`
    chunks and image data, so nothing is contiguous).
    """
    if shape == "text":
        filler = chunk(b"tEXt", b"a\0") * chunks
    elif shape == "empty":
        filler = chunk(b"zzZz", b"") * chunks
    else:
        filler = (chunk(b"tEXt", b"chara\0") + chunk(b"IDAT", b"")) * (chunks // 2)
    return tiny_png(filler, text_chunk("chara", b64json(card)))


@cache
def deflated(size: int, byte: bytes = b"A") -> bytes:
    """`size` copies of `byte`, deflated in blocks: about 1 KB per MB. Cached: it takes a while."""
    packer = zlib.compressobj(9)
    block = byte * _STREAM_BLOCK_BYTES
    parts = [packer.compress(block) for _ in range(size // _STREAM_BLOCK_BYTES)]
    return b"".join(parts) + packer.flush()


def ztxt_chunk(keyword: str, packed: bytes) -> bytes:
    return chunk(b"zTXt", keyword.encode("latin-1") + b"\0\0" + packed)


def itxt_chunk(keyword: str, text: bytes, *, packed: bool) -> bytes:
    """An iTXt chunk, no language or translated keyword; `text` is already deflated if packed."""
    flags = b"\1\0" if packed else b"\0\0"
    return chunk(b"iTXt", keyword.encode("latin-1") + b"\0" + flags + b"\0\0" + text)


def text_bomb(kind: str, *, keyword: str = "chara", unpacked: int = 64 * MIB) -> bytes:
    """A PNG whose `keyword` chunk (zTXt or compressed iTXt) inflates to `unpacked` bytes."""
    packed = deflated(unpacked)
    bomb = (
        ztxt_chunk(keyword, packed) if kind == "zTXt" else itxt_chunk(keyword, packed, packed=True)
    )
    return tiny_png(bomb)


def charx_bomb(card: object, *, unpacked: int = 100 * MIB) -> bytes:
    """A CHARX whose card.json is `card` padded with spaces to `unpacked` bytes, deflated."""
    buffer = io.BytesIO()
    document = json.dumps(card).encode()
    padding = b" " * _STREAM_BLOCK_BYTES
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open("card.json", "w") as member,
    ):
        member.write(document[:-1])
        for _ in range(unpacked // _STREAM_BLOCK_BYTES):
            member.write(padding)
        member.write(b"}")
    return buffer.getvalue()


def crowded_charx(card: object, *, members: int, claimed: int | None = None) -> bytes:
    """A CHARX of `card` plus `members` empty files, written directly (zipfile is too slow).

    `claimed` overrides the member count the end-of-directory record states, as a liar would.
    """
    names = [b"card.json"] + [b"assets/other/%d" % n for n in range(members)]
    datas = [json.dumps(card).encode()] + [b""] * members
    local, directory = io.BytesIO(), io.BytesIO()
    for name, data in zip(names, datas, strict=True):
        offset = local.tell()
        crc, size = zlib.crc32(data), len(data)
        local.write(
            struct.pack("<4s5H3L2H", b"PK\3\4", 20, 0, 0, 0, 0, crc, size, size, len(name), 0)
        )
        local.write(name + data)
        directory.write(
            struct.pack(
                "<4s6H3L5H2L",
                b"PK\1\2",
                20,
                20,
                0,
                0,
                0,
                0,
                crc,
                size,
                size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    count = min(0xFFFF, len(names) if claimed is None else claimed)
    end = struct.pack("<4s4H2LH", b"PK\5\6", 0, 0, count, count, directory.tell(), local.tell(), 0)
    return local.getvalue() + directory.getvalue() + end


def values_bomb(card: dict[str, object], *, size: int = 4 * MIB) -> bytes:
    """A JSON card padded with `size` bytes of empty lists: a value every three bytes."""
    head = json.dumps(card)[:-1].encode()
    return head + b', "x_pad": [' + b"[]," * (size // 3) + b"[]]}"


def big_legal_png(card: object, *, image_bytes: int, chunk_bytes: int = 1024) -> bytes:
    """A PNG card of about `image_bytes` of image data cut into chunks of `chunk_bytes`."""
    data = chunk(b"IDAT", bytes(range(256)) * (chunk_bytes // 256))
    image = data * (image_bytes // chunk_bytes)
    return tiny_png(image, text_chunk("chara", b64json(card)))


def lorebook_card(name: str, *, entries: int) -> dict[str, object]:
    """A V2 card with a lorebook of `entries` entries: a big, honest card."""
    book = [
        {
            "keys": [f"key {n}", f"other {n}"],
            "content": f"Entry {n} tells of the old harbour, its ships, and its keepers. " * 4,
            "extensions": {},
            "enabled": True,
            "insertion_order": n,
        }
        for n in range(entries)
    ]
    data = {"name": name, "first_mes": "Hello.", "character_book": {"entries": book}}
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": data}
