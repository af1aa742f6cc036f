"""CHARX: a zip archive with the card's JSON at `card.json` and its assets beside it.

The archive's directory is measured before `zipfile` reads it (it would build an object
per member, millions for a small file), and every member is read against a cap on both
its declared and its actual size, so a zip bomb costs no more memory than an honest card;
nothing is ever written to disk.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

from bot.characters.card import CharacterCard, ImportedCard
from bot.characters.document import load_document
from bot.characters.errors import (
    MAX_CARD_JSON_BYTES,
    MAX_CHARX_DIRECTORY_BYTES,
    MAX_CHARX_MEMBERS,
    MIB,
    CardError,
    too_many,
    unpacks_too_large,
)
from bot.characters.schema import read_document

MAX_AVATAR_BYTES = 10 * MIB
"""An icon larger than this is left out (with a warning) rather than failing the import."""
_ENCRYPTED = 0x1  # bit 0 of a zip member's general-purpose flags
_EMBEDDED_PREFIXES = ("embeded://", "embedded://")  # the spec's spelling, and the usual typo
_END_OF_DIRECTORY = b"PK\x05\x06"
_END_OF_DIRECTORY_BYTES = 22
_MAX_COMMENT_BYTES = 0xFFFF
_ZIP64_RECORD = b"PK\x06\x06"
_ZIP64_RECORD_BYTES = 56
_ZIP64_LOCATOR_BYTES = 20
_DAMAGED = "The CHARX file is damaged. Export the card again."


def read_charx(archive_bytes: bytes) -> ImportedCard:
    """The card in `card.json`, with its main icon (or first icon) as the avatar."""
    _check_directory(archive_bytes)
    try:
        with zipfile.ZipFile(io.BytesIO(archive_bytes)) as archive:
            card, warnings = read_document(load_document(_card_json(archive)))
            avatar, avatar_warnings = _icon(archive, card)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error) as exc:
        raise CardError(_DAMAGED) from exc
    except NotImplementedError as exc:  # a compression method zipfile cannot read
        raise CardError(
            "The CHARX file uses a compression method this bot cannot read. "
            "Re-save it as an ordinary zip or export the card as PNG."
        ) from exc
    return ImportedCard(card, avatar, (*warnings, *avatar_warnings))


def _card_json(archive: zipfile.ZipFile) -> bytes:
    try:
        info = archive.getinfo("card.json")
    except KeyError:
        raise CardError(
            "The CHARX file has no card.json at its root, so it holds no character."
        ) from None
    raw = _read_capped(archive, info, MAX_CARD_JSON_BYTES)
    if raw is None:
        raise unpacks_too_large("The CHARX file's card.json", MAX_CARD_JSON_BYTES)
    return raw


def _check_directory(archive_bytes: bytes) -> None:
    """Refuse an archive whose directory lists too many members to be a card.

    Read from the end-of-directory record (and the ZIP64 one, which `zipfile` prefers when
    present): the member count, and the directory's size, which bounds what `zipfile`
    parses whatever the count claims. Without the record the file is no zip at all.
    """
    tail_start = max(0, len(archive_bytes) - _END_OF_DIRECTORY_BYTES - _MAX_COMMENT_BYTES)
    at = archive_bytes.rfind(_END_OF_DIRECTORY, tail_start)
    if at < 0 or at + _END_OF_DIRECTORY_BYTES > len(archive_bytes):
        raise CardError(_DAMAGED)
    sizes = [struct.unpack_from("<HI", archive_bytes, at + 10)]
    record64 = at - _ZIP64_LOCATOR_BYTES - _ZIP64_RECORD_BYTES  # where zipfile looks for it
    if record64 >= 0 and archive_bytes.startswith(_ZIP64_RECORD, record64):
        sizes.append(struct.unpack_from("<QQ", archive_bytes, record64 + 32))
    if any(
        members > MAX_CHARX_MEMBERS or directory > MAX_CHARX_DIRECTORY_BYTES
        for members, directory in sizes
    ):
        raise too_many(
            "The CHARX file",
            "files",
            MAX_CHARX_MEMBERS,
            hint="Export the card again with fewer assets, or as PNG.",
        )


def _read_capped(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """A member's bytes; None when it is larger than `limit`, whatever its header claims."""
    if info.flag_bits & _ENCRYPTED:
        raise CardError("The CHARX file is password-protected; export it without a password.")
    if info.file_size > limit:
        return None
    with archive.open(info) as member:
        data = member.read(limit + 1)  # the header may lie about the size; the cap does not
    return data if len(data) <= limit else None


def _icon(archive: zipfile.ZipFile, card: CharacterCard) -> tuple[bytes | None, list[str]]:
    """The image of the icon named "main" (the V3 spec's main icon), else of the first icon.

    Icons that live outside the archive (http, data: URIs, ccdefault:) are not fetched:
    an import must not make network requests on a card author's behalf.
    """
    inner = card.data.get("data")
    assets = inner.get("assets") if isinstance(inner, dict) else None
    if not isinstance(assets, list):
        return None, []
    icons = [
        asset
        for asset in assets
        if isinstance(asset, dict)
        and asset.get("type") == "icon"
        and str(asset.get("uri")).startswith(_EMBEDDED_PREFIXES)
    ]
    if not icons:
        return None, []
    icon = next((a for a in icons if a.get("name") == "main"), icons[0])
    path = str(icon["uri"]).split("://", 1)[1]
    try:
        info = archive.getinfo(path)
    except KeyError:
        return None, [f"The card's icon ({path[:80]}) is missing from the CHARX file."]
    image = _read_capped(archive, info, MAX_AVATAR_BYTES)
    if image is None:
        limit = MAX_AVATAR_BYTES // MIB
        return None, [f"The card's icon is larger than {limit} MB and was left out."]
    return image, []
