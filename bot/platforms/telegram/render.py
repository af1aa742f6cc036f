"""Markdown from the model turned into Telegram plain text plus entities (no parse_mode).

Parsing is telegramify-markdown's; this module only configures it and makes its output sendable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import telegramify_markdown as tgmd
from telegram import MessageEntity

_log = logging.getLogger(__name__)

MAX_MESSAGE_UTF16: Final = 4096
"""Telegram's text limit after entity parsing (PTB `MessageLimit.MAX_TEXT_LENGTH`)."""


def utf16_units(text: str) -> int:
    """Length in UTF-16 code units, Telegram's unit for limits and entity offsets.

    Used as `PlatformLimits.measure`, so the stream splitter cuts the source Markdown into
    chunks that fit. Unlike a strict encode it counts a lone surrogate instead of raising.
    """
    return tgmd.utf16_len(text)


@dataclass(frozen=True, slots=True, eq=False)
class Rendered:
    """Text and entities ready for `send_message(text, entities=...)`.

    Equality is by value, so the editor can skip an edit that changes nothing. PTB's own
    `MessageEntity.__eq__` compares only type, offset and length, which would call two
    links with different URLs equal; `to_dict()` is precise but costs ~12 µs per entity.
    So equality and hash use a key of the attributes `render` sets.
    """

    text: str
    entities: tuple[MessageEntity, ...] = ()

    def _key(self) -> tuple[str, tuple[tuple[str | int | None, ...], ...]]:
        return self.text, tuple(
            (e.type, e.offset, e.length, e.url, e.language, e.custom_emoji_id)
            for e in self.entities
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Rendered):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


def _render_config() -> tgmd.RenderConfig:
    """The library's config, isolated from its process-global one, with meaning kept.

    - Headings get no emoji prefix; they keep the library's styling (H1-H2 bold and
      underline, H3-H4 bold, H5-H6 italic), which cannot be configured.
    - Unordered items get "•" (the default "⦁" is a math symbol many fonts lack);
      ordered items keep "N." and horizontal rules the library's dash line.
    - Task boxes are "☐"/"☑": the default open box is "☑" (U+2611), which reads as done.
    - Blockquotes are never made expandable: the library collapses quotes over 200
      units, so a quote would fold up mid-stream as it grows.
    - Images stay "🖼" plus a link on the alt text, so one without alt text is not lost.
    LaTeX conversion (the default) stays on: the model's \\(...\\) and \\[...\\] lose their
    backslashes in Markdown either way, and $...$ math is converted regardless; Unicode
    in a code entity reads better than half-stripped LaTeX.
    """
    config = tgmd.RenderConfig.isolated()
    symbols = config.markdown_symbol
    symbols.heading_level_1 = symbols.heading_level_2 = ""
    symbols.heading_level_3 = symbols.heading_level_4 = ""
    symbols.unordered_list_item = "•"
    symbols.task_completed, symbols.task_uncompleted = "☑", "☐"
    config.cite_expandable = False
    return config


# Built once and never mutated afterwards.
_CONFIG: Final = _render_config()


def plain(text: str) -> Rendered:
    """`text` as it is, with no entities: the fallback when Telegram cannot parse entities.

    Trailing whitespace goes (Telegram trims it anyway); lone surrogates, which are not
    valid UTF-8, are dropped; text over the limit is cut at a character boundary, never
    between the halves of a surrogate pair. Blank text gives empty text, which callers
    must not send.
    """
    text = text.rstrip()
    if text.isascii() and len(text) <= MAX_MESSAGE_UTF16:
        return Rendered(text)
    units = text.encode("utf-16-le", "surrogatepass")[: 2 * MAX_MESSAGE_UTF16]
    # "ignore" drops lone surrogates, including a pair's first half left by the cut.
    return Rendered(units.decode("utf-16-le", "ignore"))


def render(markdown: str) -> Rendered:
    """`markdown` converted to text plus entities; never raises, and the result is sendable.

    The text is non-empty for non-blank input and at most MAX_MESSAGE_UTF16 units; every
    entity lies inside it with a positive length. Text that cannot be rendered is sent
    plain rather than lost: when the library raises, yields only whitespace (a lone HTML
    block, a link definition) or grows the text past the limit, the source goes out as
    `plain(markdown)`. Half-written markup from a stream renders as the library reads it:
    an unclosed "**" stays literal, an unclosed fence is a pre block to the end.
    """
    if not markdown.strip():
        return plain(markdown)
    try:
        text, entities = tgmd.convert(markdown, config=_CONFIG)
    except Exception as exc:  # noqa: BLE001 - a third-party parser on untrusted model output
        _log.warning(
            "telegramify-markdown raised %s on %d units of Markdown; sending it plain",
            type(exc).__name__,
            utf16_units(markdown),
        )
        return plain(markdown)
    # Telegram trims trailing whitespace; trimming here keeps equal-looking renders equal.
    text = text.rstrip()
    end = utf16_units(text)
    if not text or end > MAX_MESSAGE_UTF16:
        return plain(markdown)
    return Rendered(text, tuple(_to_ptb(entities, end)))


def _to_ptb(entities: list[tgmd.MessageEntity], end: int) -> Iterator[MessageEntity]:
    """The library's entities as PTB ones, clipped to [0, end) and dropped when empty."""
    for entity in entities:
        start = max(entity.offset, 0)
        length = min(entity.offset + entity.length, end) - start
        if length > 0:
            yield MessageEntity(
                type=entity.type,
                offset=start,
                length=length,
                url=entity.url,
                language=entity.language,
                custom_emoji_id=entity.custom_emoji_id,
            )
