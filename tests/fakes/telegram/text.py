"""What the fake Telegram server checks in a text before it accepts it: length, entities, markup.

Lengths and offsets are UTF-16 code units, as Telegram counts them. Knows nothing of HTTP or chats.
"""

from __future__ import annotations

import html
import re
from typing import Any

MAX_TEXT_UTF16 = 4096
MAX_CAPTION_UTF16 = 1024
ENTITY_TYPES = frozenset({
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold",
    "italic", "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote",
    "code", "pre", "text_link", "text_mention", "custom_emoji", "date_time",
})  # fmt: skip
# Markup characters MarkdownV2 treats as formatting; the other reserved ones must be escaped.
_MARKDOWN_FORMATTING = frozenset("*_~|[]")
_MARKDOWN_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji", "tg-time",
})  # fmt: skip
_HTML_TAG = re.compile(r"<(/?)([A-Za-z][\w-]*)[^<>]*>")


class TextRejected(ValueError):
    """A text Telegram would refuse; `reason` is the description without "Bad Request: "."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def utf16_len(text: str) -> int:
    """Telegram's length: astral characters (most emoji) count twice."""
    return len(text.encode("utf-16-le")) // 2


def checked_text(
    text: object,
    *,
    entities: object = None,
    parse_mode: object = None,
    limit: int = MAX_TEXT_UTF16,
    caption: bool = False,
    allow_empty: bool = False,
) -> tuple[str, list[dict[str, Any]]]:
    """The text as Telegram stores it and its entities, or TextRejected.

    Entities win over parse_mode, as on the real server; with parse_mode the markup is stripped
    by a minimal parser and no entities are derived from it (the bot under test sends entities).
    """
    if text is None:
        text = ""
    if not isinstance(text, str):
        raise TextRejected("message text is empty" if not caption else "can't parse caption")
    if entities is not None:
        plain, found = text, check_entities(text, entities)
    else:
        plain, found = strip_markup(text, parse_mode), []
    if not plain.strip() and not allow_empty:
        raise TextRejected("message text is empty")
    if utf16_len(plain) > limit:
        raise TextRejected("message caption is too long" if caption else "message is too long")
    return plain, found


def check_entities(text: str, entities: object) -> list[dict[str, Any]]:
    """Entities that lie inside the text, with known types; their order is kept."""
    if isinstance(entities, str) or not isinstance(entities, list):
        raise TextRejected("can't parse entities JSON object")
    size = utf16_len(text)
    result = []
    for index, entity in enumerate(entities):
        if not isinstance(entity, dict) or entity.get("type") not in ENTITY_TYPES:
            raise TextRejected(f"can't parse entities: unsupported entity at index {index}")
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(length, int):
            raise TextRejected(f"can't parse entities: entity {index} has no offset or length")
        if offset < 0 or length <= 0 or offset + length > size:
            raise TextRejected(
                f"can't parse entities: entity {index} ({entity['type']}) at offset {offset} "
                f"with length {length} is outside the text of {size} UTF-16 code units"
            )
        if entity["type"] == "text_link" and not entity.get("url"):
            raise TextRejected(f"can't parse entities: text_link {index} has no url")
        result.append(dict(entity))
    return result


def strip_markup(text: str, parse_mode: object) -> str:
    """The text a parse_mode leaves after its markup is removed; no parse_mode leaves it as is."""
    if parse_mode is None or parse_mode == "":
        return text
    if parse_mode == "MarkdownV2":
        return _strip_markdown_v2(text)
    if parse_mode == "HTML":
        return _strip_html(text)
    if parse_mode == "Markdown":
        return re.sub(r"[*_`\[\]]", "", text)
    raise TextRejected(f"unsupported parse_mode {parse_mode!r}")


def _strip_markdown_v2(text: str) -> str:
    """Escapes resolved, formatting dropped, link URLs skipped; a bare reserved char is refused."""
    out: list[str] = []
    index, in_code, line_start = 0, False, True
    while index < len(text):
        char = text[index]
        if char == "\\":
            if index + 1 == len(text):
                raise TextRejected("can't parse entities: text must not end with '\\'")
            out.append(text[index + 1])
            index, line_start = index + 2, False
            continue
        if char == "`":
            in_code = not in_code
        elif in_code:
            out.append(char)
        elif char == "]" and text.startswith("(", index + 1):
            end = text.find(")", index + 2)
            if end < 0:
                raise TextRejected("can't parse entities: can't find end of a URL")
            index = end  # the URL is not part of the text
        elif char == ">" and line_start:
            pass  # a block quote
        elif char in _MARKDOWN_RESERVED and char not in _MARKDOWN_FORMATTING:
            raise TextRejected(
                f"can't parse entities: Character '{char}' is reserved and must be escaped "
                "with the preceding '\\'"
            )
        elif char not in _MARKDOWN_FORMATTING:
            out.append(char)
        line_start = char == "\n"
        index += 1
    return "".join(out)


def _strip_html(text: str) -> str:
    """Supported tags dropped, entities unescaped; an unknown tag or a bare '<' is refused."""
    out, at = [], 0
    for match in _HTML_TAG.finditer(text):
        out.append(_html_segment(text, at, match.start()))
        name = match.group(2).lower()
        if name not in _HTML_TAGS:
            kind = "end" if match.group(1) else "start"
            offset = len(text[: match.start()].encode())
            raise TextRejected(
                f'can\'t parse entities: Unsupported {kind} tag "{name}" at byte offset {offset}'
            )
        at = match.end()
    out.append(_html_segment(text, at, len(text)))
    return "".join(out)


def _html_segment(text: str, start: int, end: int) -> str:
    segment = text[start:end]
    if "<" in segment:
        offset = len(text[: start + segment.index("<")].encode())
        raise TextRejected(f"can't parse entities: Unclosed start tag at byte offset {offset}")
    return html.unescape(segment)
