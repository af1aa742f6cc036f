"""Cards shaped like the ones people download, built in code: no binary file is checked in.

The PNG and zip builders here are written independently of `bot.characters.png`, so a
bug in our chunk writer cannot hide behind the same bug in the fixtures.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import struct
import zipfile
import zlib
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def text_chunk(keyword: str, text: str) -> bytes:
    return chunk(b"tEXt", keyword.encode("latin-1") + b"\0" + text.encode("latin-1"))


def tiny_png(*extra: bytes, colour: int = 200) -> bytes:
    """A 2x2 greyscale image with `extra` chunks placed between the image data and IEND."""
    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    pixels = zlib.compress((b"\0" + bytes([colour, colour])) * 2)
    software = text_chunk("Software", "a card editor")
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", header)
        + software
        + chunk(b"IDAT", pixels)
        + b"".join(extra)
        + chunk(b"IEND", b"")
    )


def b64json(document: object) -> str:
    return base64.b64encode(json.dumps(document).encode()).decode("ascii")


def png_card(**texts: object) -> bytes:
    """A PNG with one tEXt chunk per keyword, each holding base64 of the JSON given."""
    return tiny_png(*(text_chunk(key, b64json(value)) for key, value in texts.items()))


def charx(card: object, files: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("card.json", json.dumps(card, ensure_ascii=False))
        for name, data in (files or {}).items():
            archive.writestr(name, data)
    return buffer.getvalue()


LOREBOOK: dict[str, Any] = {
    "name": "Aria's world",
    "description": "",
    "scan_depth": 50,
    "token_budget": 500,
    "recursive_scanning": False,
    "extensions": {"x_book_key": [1, 2, 3]},
    "entries": [
        {
            "id": 0,
            "keys": ["harbour", "docks"],
            "secondary_keys": [],
            "comment": "the harbour",
            "content": "The harbour of Velmire smells of tar.",
            "constant": False,
            "selective": True,
            "insertion_order": 100,
            "enabled": True,
            "position": "after_char",
            "use_regex": True,
            "extensions": {"position": 1, "depth": 4, "probability": 100, "group": ""},
        },
        {
            "id": 1,
            "keys": ["Mara"],
            "content": "Mara is Aria's sister.",
            "enabled": False,
            "insertion_order": 10,
            "case_sensitive": True,
            "priority": 5,
            "extensions": {},
        },
    ],
}


def v2_card() -> dict[str, Any]:
    """A card as SillyTavern exports it: V1 mirrors, its own top-level keys, a lorebook."""
    data: dict[str, Any] = {
        "name": "Aria",
        "description": "{{char}} is a ship's navigator.\nShe speaks softly.",
        "personality": "calm, curious",
        "scenario": "{{user}} boards the Skylark.",
        "first_mes": "*Aria looks up.* Welcome aboard.",
        "mes_example": "<START>\n{{user}}: Hi\n{{char}}: Hello.",
        "creator_notes": "Made for testing. ☕",
        "system_prompt": "{{original}} Stay in character.",
        "post_history_instructions": "Keep replies short.",
        "alternate_greetings": ["*Aria waves.*", ""],
        "tags": ["sci-fi", "navigator"],
        "creator": "someone",
        "character_version": "1.2",
        "character_book": LOREBOOK,
        "extensions": {
            "talkativeness": "0.7",
            "fav": True,
            "world": "Aria's world",
            "depth_prompt": {"prompt": "Aria hums.", "depth": 4, "role": "system"},
            "x_tool": {"nested": [None, 1.5, "ü"]},
        },
        "x_data_key": {"kept": True},
    }
    return {
        "name": "Aria (old mirror)",
        "description": "stale mirror text",
        "personality": "stale",
        "scenario": "stale",
        "first_mes": "stale",
        "mes_example": "stale",
        "creatorcomment": "Made for testing. ☕",
        "avatar": "none",
        "chat": "Aria - 2024-01-01",
        "talkativeness": "0.7",
        "fav": True,
        "tags": ["sci-fi", "navigator"],
        "create_date": "2024-01-01 @12h",
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": data,
        "x_top_key": "kept at the top",
    }


def v3_card() -> dict[str, Any]:
    """A V3 card with assets of every URI kind, a nickname and group-only greetings."""
    data = copy.deepcopy(v2_card()["data"])
    data.update(
        {
            "name": "Aria Velmire",
            "nickname": "Ari",
            "creator_notes": "English notes",
            "creator_notes_multilingual": {
                "en": "English notes",
                "ja": "日本語のメモ",
                "ar": "ملاحظات",
                "emoji": "🚀🌌 \U0001d518 non-BMP",
            },
            "group_only_greetings": ["*Aria nods to everyone.*"],
            "source": ["https://example.invalid/aria"],
            "creation_date": 1_700_000_000,
            "modification_date": 1_710_000_000,
            "assets": [
                {"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"},
                {
                    "type": "icon",
                    "uri": "embeded://assets/icon/images/main.png",
                    "name": "main",
                    "ext": "png",
                },
                {
                    "type": "emotion",
                    "uri": "data:image/png;base64,iVBORw0KGgo=",
                    "name": "happy",
                    "ext": "png",
                },
                {
                    "type": "background",
                    "uri": "https://example.invalid/bg.webp",
                    "name": "deck",
                    "ext": "webp",
                },
                {
                    "type": "x_custom",
                    "uri": "embeded://assets/other/a.bin",
                    "name": "a",
                    "ext": "bin",
                },
            ],
        }
    )
    data["character_book"]["entries"][0]["extensions"]["@@decorator"] = "@@depth 2"
    return {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": data,
        "x_top_key": ["kept", "at", "the", "top"],
    }


def v1_card() -> dict[str, Any]:
    return {
        "name": "Old Tom",
        "description": "A sailor.",
        "personality": "gruff",
        "scenario": "A tavern.",
        "first_mes": "Arr.",
        "mes_example": "<START>\n{{char}}: Arr.",
        "x_v1_extra": 7,
    }


def legacy_card() -> dict[str, Any]:
    return {
        "char_name": "Pyg",
        "char_persona": "A helpful bot.",
        "char_greeting": "Hello there!",
        "world_scenario": "A chat room.",
        "example_dialogue": "You: hi\nPyg: hello",
        "x_gradio_extra": "kept",
    }
