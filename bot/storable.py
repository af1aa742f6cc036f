"""Text made storable on every database: the one normalisation applied at the storage edge.

PostgreSQL refuses U+0000 in text and JSON, and no backend can encode a lone UTF-16
surrogate as UTF-8. Both arrive from endpoints, members and cards, and a turn must never be
lost over them, so storage writes every text value through here rather than refusing it.
"""

from __future__ import annotations

import re

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
"""A well-formed str holds no surrogate code point at all (pairs are one code point), so any
match is a half that was left alone."""


def storable_text(text: str) -> str:
    """`text` without NUL characters and with each lone surrogate as U+FFFD.

    NUL is dropped rather than replaced: nothing a person sees is drawn for it, so the stored
    text reads as the text that was shown. A lone surrogate becomes the replacement
    character, as a UTF-8 decoder would show it.
    """
    if "\x00" in text:
        text = text.replace("\x00", "")
    if _LONE_SURROGATE.search(text) is None:
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


def storable_json(value: object) -> object:
    """A JSON-shaped value with `storable_text` applied to every string, keys included."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {
            storable_text(k) if isinstance(k, str) else k: storable_json(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    return value
