"""Making text from outside (an endpoint, a card, a model list) safe to show as a name, a
status or an error: no terminal escapes, no control characters, no reordering of what follows.

Pure; knows nothing of where the text came from or where it goes.
"""

from __future__ import annotations

import re

# Whole escape sequences go, not only their ESC: "\x1b[31m" would otherwise leave "[31m".
_TERMINAL_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erasing the screen
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"  # OSC: window title, links, clipboard
    r"|(?:\x1b[PX^_]|[\x90\x98\x9e\x9f])[^\x1b\x9c]*(?:\x1b\\|\x9c)"  # DCS, SOS, PM, APC strings
    r"|\x1b[!-/]*[0-~]"  # ESC c resets the terminal, ESC ( 0 swaps in line-drawing glyphs
)
# C0 and C1 controls and DEL; the embeddings, overrides and isolates of bidirectional text
# (U+202A-U+202E, U+2066-U+2069), which reorder everything after them (CVE-2021-42574);
# line and paragraph separators; lone surrogates, which no UTF-8 output can encode.
# The marks U+200E, U+200F and U+061C stay: real right-to-left names use them, and they only
# set the direction of the characters beside them.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x85\u2028\u2029")
_REPLACEMENT = "\ufffd"


def safe_to_show(text: str, *, lines: bool = False) -> str:
    """`text` without what could act on a terminal or a chat client rather than be read.

    Terminal escape sequences are removed whole; other controls, bidirectional overrides and
    isolates are removed; a lone surrogate becomes U+FFFD. Line breaks and tabs become
    spaces, unless `lines` is set, when a line break of any kind becomes "\\n" and a tab
    stays. Letters, emoji (and their joiners) and right-to-left text are left as they are.
    """
    text = _TERMINAL_SEQUENCE.sub("", text)
    if lines:
        text = text.replace("\r\n", "\n")
    return _UNSAFE.sub(_multi_line if lines else _one_line, text)


def _one_line(found: re.Match[str]) -> str:
    char = found.group()
    if char in _LINE_BREAKS or char == "\t":
        return " "
    return _REPLACEMENT if _is_surrogate(char) else ""


def _multi_line(found: re.Match[str]) -> str:
    char = found.group()
    if char in _LINE_BREAKS:
        return "\n"
    if char == "\t":
        return char
    return _REPLACEMENT if _is_surrogate(char) else ""


def _is_surrogate(char: str) -> bool:
    return "\ud800" <= char <= "\udfff"
