"""Markdown rendered into Telegram text plus entities: offsets, fallbacks, limits, equality."""

from __future__ import annotations

import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telegram import MessageEntity

from bot.platforms.telegram.render import (
    MAX_MESSAGE_UTF16,
    Rendered,
    plain,
    render,
    utf16_units,
)

RESERVED = "_*[]()~`>#+-=|{}.!"


def assert_sendable(rendered: Rendered) -> None:
    """Non-empty, within the limit, and every entity inside the text with a positive length."""
    end = utf16_units(rendered.text)
    assert rendered.text.strip()
    assert end <= MAX_MESSAGE_UTF16
    for entity in rendered.entities:
        assert entity.offset >= 0
        assert entity.length > 0
        assert entity.offset + entity.length <= end


@pytest.mark.parametrize(
    ("source", "text", "expected"),
    [
        ("😀 **hi**", "😀 hi", MessageEntity("bold", 3, 2)),
        ("😀 *hi*", "😀 hi", MessageEntity("italic", 3, 2)),
        ("😀 `x_y`", "😀 x_y", MessageEntity("code", 3, 3)),
        ("😀 ~~old~~", "😀 old", MessageEntity("strikethrough", 3, 3)),
        (
            "😀 [site](https://example.com/a_b)",
            "😀 site",
            MessageEntity("text_link", 3, 4, url="https://example.com/a_b"),
        ),
        (
            "😀\n\n```python\nprint(1)\n```",
            "😀\n\nprint(1)",
            MessageEntity("pre", 4, 8, language="python"),
        ),
        ("😀\n\n> quoted", "😀\n\nquoted", MessageEntity("blockquote", 4, 6)),
    ],
    ids=["bold", "italic", "code", "strikethrough", "text_link", "pre", "blockquote"],
)
def test_entity_offsets_count_utf16_units(source: str, text: str, expected: MessageEntity) -> None:
    """Each markup gives its entity type, with offsets counting the emoji as two units."""
    rendered = render(source)
    assert rendered.text == text
    assert [e.to_dict() for e in rendered.entities] == [expected.to_dict()]


def test_code_block_keeps_content_verbatim() -> None:
    """Characters that are markup elsewhere survive inside a fence, unescaped."""
    code = f"x = a_b * c[0] ~ `d` > 1 # {RESERVED} \\n <tag> &amp;"
    rendered = render(f"```\n{code}\n```")
    assert rendered.text == code
    assert [e.to_dict() for e in rendered.entities] == [
        MessageEntity("pre", 0, utf16_units(code)).to_dict()
    ]


@pytest.mark.parametrize(
    "source", ["1.5 + 2 = 3.5!", "snake_case_name", "a (b) {c} | d > e = f", "price $5 to $7."]
)
def test_plain_text_with_reserved_characters_is_unchanged(source: str) -> None:
    """Text without markup comes through as written, with no entities and no escaping."""
    assert render(source) == Rendered(source)


def test_heading_becomes_bold_without_emoji() -> None:
    """A heading is styled, not prefixed with the library's default pushpin or books emoji."""
    rendered = render("### Steps")
    assert rendered.text == "Steps"
    assert [e.to_dict() for e in rendered.entities] == [MessageEntity("bold", 0, 5).to_dict()]


def test_task_list_marks_open_items_as_open() -> None:
    """An unchecked task shows an empty box, not the library's default checked box."""
    assert render("- [ ] todo\n- [x] done\n- plain").text == "☐ todo\n☑ done\n• plain"


def test_long_blockquote_is_not_collapsed() -> None:
    """A quote past 200 units stays an ordinary blockquote rather than folding up mid-stream."""
    rendered = render("> " + "word " * 60)
    assert [e.type for e in rendered.entities] == ["blockquote"]


def test_unclosed_bold_stays_literal() -> None:
    """Half-written bold from a stream shows its asterisks rather than failing."""
    assert render("Here is **bold tex") == Rendered("Here is **bold tex")


def test_unterminated_fence_is_a_pre_block() -> None:
    """An open fence from a stream is already a code block with its language."""
    rendered = render("Look:\n\n```python\nprint(1")
    assert rendered.text == "Look:\n\nprint(1"
    assert [e.to_dict() for e in rendered.entities] == [
        MessageEntity("pre", 7, 7, language="python").to_dict()
    ]


@pytest.mark.parametrize(
    "source",
    [
        "Here is **bold tex",
        "```python\nprint(1",
        "```",
        "**",
        "# ",
        "[link](http://exa",
        "> quote\n\n- item\n- ",
        "| a | b |\n|---",
        "~~gone",
        "`code",
        "$x^",
        "😀 **a *b** c*",
    ],
)
def test_half_written_markup_is_sendable(source: str) -> None:
    """Markup cut off mid-stream never raises and keeps every entity inside the text."""
    assert_sendable(render(source))


@pytest.mark.parametrize("source", ["<div>\nhello\n</div>", "[a]: https://example.com", "#"])
def test_source_that_renders_to_nothing_is_sent_plain(source: str) -> None:
    """A source the library would turn into blank text goes out as its own plain text."""
    assert render(source) == plain(source)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a `  `", Rendered("a")),
        ("> - a\n> - b", Rendered("• a\n• b", (MessageEntity("blockquote", 0, 7),))),
    ],
    ids=["blank-code-span-dropped", "quote-clipped"],
)
def test_trailing_whitespace_is_trimmed_with_its_entities(source: str, expected: Rendered) -> None:
    """Trailing whitespace goes, as Telegram would trim it, and entities are clipped to match."""
    assert render(source) == expected


def test_library_failure_sends_plain_and_logs_no_text(caplog: pytest.LogCaptureFixture) -> None:
    """When the library raises, the source goes out plain and the log holds no content."""
    source = "**secret\ud800 words**"
    with caplog.at_level(logging.WARNING):
        rendered = render(source)
    assert rendered == Rendered("**secret words**")
    assert "raised UnicodeEncodeError" in caplog.text
    assert "secret" not in caplog.text


def test_full_length_plain_text_stays_within_limit() -> None:
    """A source of exactly 4096 units of plain text comes back whole."""
    source = ("lorem ipsum 😀 " * 400)[: MAX_MESSAGE_UTF16 - 300]
    source += "x" * (MAX_MESSAGE_UTF16 - utf16_units(source))
    assert utf16_units(source) == MAX_MESSAGE_UTF16
    assert render(source).text == source


def test_text_grown_past_limit_falls_back_to_source() -> None:
    """Rules grow from 3 to 8 characters each; past the limit the plain source is sent."""
    source = "---\n\n" * (MAX_MESSAGE_UTF16 // 5)
    assert utf16_units(source) <= MAX_MESSAGE_UTF16
    assert render(source) == plain(source)
    assert render(source).text == source.rstrip()


def test_over_long_text_is_cut_between_surrogate_pairs() -> None:
    """Text over the limit is cut before an emoji that would not fit whole."""
    rendered = plain("a" + "😀" * MAX_MESSAGE_UTF16)
    assert rendered.text == "a" + "😀" * (MAX_MESSAGE_UTF16 // 2 - 1)


def test_plain_has_no_entities() -> None:
    """The fallback form keeps the markup characters as text and carries no entities."""
    assert plain("**not bold** [x](https://e.com)") == Rendered("**not bold** [x](https://e.com)")


def test_same_source_renders_equal() -> None:
    """Rendering the same source twice gives equal values with equal hashes."""
    source = "# T\n\n😀 **a** [b](https://e.com) `c`\n\n```py\nd\n```"
    assert render(source) == render(source)
    assert hash(render(source)) == hash(render(source))


def test_sources_differing_only_in_url_render_unequal() -> None:
    """Equality sees the link URL, which PTB's MessageEntity equality ignores."""
    assert render("[a](https://a.example)") != render("[a](https://b.example)")


MARKUP = st.sampled_from([*RESERVED, "\n", " ", "\\", "<", "$", "**", "```", "~~", "\n\n", "😀"])
PIECE = st.one_of(st.text(st.characters(exclude_categories=("Cs",)), max_size=4), MARKUP)
TEXT = st.lists(PIECE, max_size=120).map("".join)


@settings(max_examples=200, deadline=None)
@given(TEXT)
def test_render_is_always_sendable(source: str) -> None:
    """Any text renders without raising into something Telegram accepts."""
    rendered = render(source)
    if source.strip():
        assert_sendable(rendered)
    else:
        assert rendered.entities == ()
