"""Text made storable on every database: the one normalisation applied at the storage edge.

PostgreSQL refuses U+0000 in text and JSON, and no backend can encode a lone UTF-16
surrogate as UTF-8. Both arrive from endpoints, members and cards, and a turn must never be
lost over them, so storage writes every text value through here rather than refusing it.
"""

from __future__ import annotations

import json
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


_UNSTORABLE_ESCAPE = re.compile(
    r"\\\\"  # an escaped backslash, consumed whole so that what follows it is read right
    r"|\\ud[89ab][0-9a-f]{2}\\ud[c-f][0-9a-f]{2}"  # a surrogate pair: one real character
    r"|\\u0000"
    r"|\\ud[89a-f][0-9a-f]{2}"  # a surrogate half on its own
)


def storable_json_text(value: object) -> str:
    """`value` as JSON text with `storable_text`'s rule applied to every string, keys too.

    The engine's JSON serializer: the rule is applied to the JSON text, where NUL and lone
    surrogates can only appear as `\\u` escapes (ASCII-only output), so one C-speed scan does
    it instead of a walk through the value, which took over 100 ms on the event loop for a
    large character card. Nothing is scanned unless such an escape may be there.
    """
    text = json.dumps(value)
    if "\\u0000" not in text and "\\ud" not in text:
        return text
    return _UNSTORABLE_ESCAPE.sub(_storable_escape, text)


def _storable_escape(match: re.Match[str]) -> str:
    escape = match.group()
    if escape == "\\u0000":
        return ""
    if len(escape) == 6:  # a lone half: a pair and an escaped backslash keep their length
        return "\\ufffd"
    return escape
