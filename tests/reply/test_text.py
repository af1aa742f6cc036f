"""Splitting a reply at a platform limit: worked vectors and properties."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.core.domain import count_utf16_units
from bot.reply.text import (
    BARE_REOPEN,
    FENCE_CLOSE,
    Chunk,
    Measure,
    SurrogateJoiner,
    next_chunk,
    open_fence_at_end,
    plan_chunks,
    split_for_limit,
)

PIECES = [
    "a",
    "word ",
    "longer words here ",
    "x" * 45,
    " ",
    "\t",
    "\n",
    "\n\n",
    ". ",
    "! ",
    "? ",
    "`",
    "``",
    "`code`",
    "\n```\n",
    "\n```python\n",
    "\n~~~\n",
    "😀",
    "é",
    "\u200d",
]
texts = st.lists(st.sampled_from(PIECES), max_size=80).map("".join)
measures = st.sampled_from([len, count_utf16_units])


def fence_lines_fit(text: str, limit: int) -> bool:
    """Fences stay balanced only when each fence line fits comfortably in one message."""
    return all(len(line) * 2 + 8 <= limit for line in text.split("\n") if line.startswith("```"))


def test_empty_text_gives_no_chunks() -> None:
    """Nothing to say is no message at all."""
    assert split_for_limit("", 10) == []


def test_short_text_is_one_chunk() -> None:
    """Text within the limit is returned whole."""
    assert split_for_limit("Hello there.", 20) == ["Hello there."]


def test_splits_at_paragraph_break() -> None:
    """A blank line beats a later line break, and stays with the earlier chunk."""
    text = "First paragraph here.\n\nSecond one\nhas lines."
    assert split_for_limit(text, 36) == ["First paragraph here.\n\n", "Second one\nhas lines."]


def test_splits_at_line_break_without_paragraph() -> None:
    """Without a blank line, the last line break in the window is used."""
    text = "line one is here\nline two is here\nline three"
    assert split_for_limit(text, 40) == ["line one is here\nline two is here\n", "line three"]


def test_splits_at_sentence_end_without_line_break() -> None:
    """Without line breaks, a sentence end beats a later space."""
    text = "The first sentence. The second one goes on and on"
    assert split_for_limit(text, 30) == ["The first sentence. ", "The second one goes on and on"]


def test_splits_at_space_without_sentence_end() -> None:
    """Without sentence ends, the last space in the window is used."""
    assert split_for_limit("alpha beta gamma delta", 12) == ["alpha beta ", "gamma delta"]


def test_hard_cut_without_whitespace() -> None:
    """A run with no whitespace is cut at the limit."""
    assert split_for_limit("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]


def test_early_break_loses_to_a_fuller_chunk() -> None:
    """A paragraph break in the first half of the window loses to a later space."""
    text = "Hi.\n\nthen a long sentence without any stop at all"
    assert split_for_limit(text, 30)[0] == "Hi.\n\nthen a long sentence "


def test_fence_closed_and_reopened_with_language() -> None:
    """A chunk ending inside a fence closes it; the next reopens it with its language."""
    code = "".join(f"print({n})\n" for n in range(8))
    text = f"Look:\n```python\n{code}```\nDone."
    chunks = split_for_limit(text, 50)
    assert chunks[0].endswith(FENCE_CLOSE)
    assert chunks[1].startswith("```python\n")
    assert all(len(chunk) <= 50 for chunk in chunks)


def test_split_before_fence_keeps_block_whole() -> None:
    """A break just before a fence is taken when the chunk stays at least half full."""
    text = "Some words of introduction here.\n```\nshort block\nmore code\n```\n"
    assert split_for_limit(text, 50) == ["Some words of introduction here.\n", text[33:]]


def test_fence_markers_count_toward_limit() -> None:
    """The added markers fit inside the limit together with the body."""
    text = "```python\n" + "code line\n" * 20 + "```"
    for chunk in split_for_limit(text, 40):
        assert len(chunk) <= 40


def test_long_fence_line_is_reopened_bare() -> None:
    """A fence line too long to repeat is reopened as a bare ```."""
    text = "```" + "x" * 30 + "\n" + "code\n" * 30 + "```"
    chunks = plan_chunks(text, 50)
    assert chunks[1].reopen == BARE_REOPEN


def test_never_cuts_inside_fence_line() -> None:
    """A cut never lands inside a ``` line, even at a space in its info string."""
    text = "ab\n```py a b c d e\ncode\n```"
    assert split_for_limit(text, 20)[0] == "ab\n"


def test_no_chunk_starts_with_midline_backticks() -> None:
    """A cut at a space never leaves ``` at the start of the next chunk."""
    text = "word " * 5 + "```inline``` more words follow"
    for chunk in split_for_limit(text, 25)[1:]:
        assert not chunk.startswith("```")


def test_utf16_measure_counts_emoji_twice() -> None:
    """With Telegram's measure an emoji costs two units."""
    chunks = split_for_limit("😀" * 15, 10, measure=count_utf16_units)
    assert chunks == ["😀" * 5] * 3


def test_utf16_measure_with_mixed_text() -> None:
    """Mixed ASCII and emoji are cut by units, not characters."""
    text = "ab😀" * 10
    chunks = split_for_limit(text, 9, measure=count_utf16_units)
    assert all(count_utf16_units(chunk) <= 9 for chunk in chunks)
    assert "".join(chunks) == text


def test_limit_smaller_than_a_character_raises() -> None:
    """An emoji cannot fit in one UTF-16 unit."""
    with pytest.raises(ValueError, match="limit"):
        split_for_limit("😀", 1, measure=count_utf16_units)


def test_open_fence_at_end_reports_the_opening_line() -> None:
    """The first line of an unclosed fence is returned; closed fences give None."""
    assert open_fence_at_end("text\n```rust\nfn main") == "```rust"
    assert open_fence_at_end("```\ncode\n```\n") is None
    assert open_fence_at_end("inline ``` is not a fence") is None


def test_open_fence_at_end_continues_from_a_state() -> None:
    """A text that starts inside a fence is closed by its first ``` line."""
    assert open_fence_at_end("code\n```\nafter", open_fence="```py") is None
    assert open_fence_at_end("more code", open_fence="```py") == "```py"


def test_next_chunk_returns_whole_text_when_it_fits() -> None:
    """The first chunk of a short text is the text itself."""
    assert next_chunk("short", 10) == Chunk(body="short")


def test_next_chunk_continues_an_open_fence() -> None:
    """A tail that begins inside a fence is reopened with the fence's line."""
    chunk = next_chunk("x = 1\n", 40, open_fence="```python")
    assert chunk.text == "```python\nx = 1\n"
    assert chunk.fence_at_end == "```python"


def test_split_work_is_linear_in_text_length() -> None:
    """Splitting measures each character a bounded number of times, not once per chunk."""
    measured = 0

    def counting(text: str) -> int:
        nonlocal measured
        measured += len(text)
        return count_utf16_units(text)

    text = "Some words, a sentence. Another one!\n" * 2000
    split_for_limit(text, 100, measure=counting)
    assert measured < 20 * len(text)


@settings(max_examples=300)
@given(text=texts, limit=st.integers(2, 120), measure=measures)
def test_every_chunk_fits_the_limit(text: str, limit: int, measure: Measure) -> None:
    """No chunk, markers included, measures more than the limit."""
    for chunk in split_for_limit(text, limit, measure=measure):
        assert measure(chunk) <= limit


@settings(max_examples=300)
@given(text=texts, limit=st.integers(2, 120), measure=measures)
def test_bodies_rejoin_to_the_original(text: str, limit: int, measure: Measure) -> None:
    """Without the added markers, the chunks concatenate to the original exactly."""
    chunks = plan_chunks(text, limit, measure=measure)
    assert "".join(chunk.body for chunk in chunks) == text
    assert [chunk.text for chunk in chunks] == split_for_limit(text, limit, measure=measure)
    assert all(chunk.body for chunk in chunks)
    assert all(chunk.reopen == "" or chunk.reopen.startswith("```") for chunk in chunks)
    assert all(chunk.close in ("", FENCE_CLOSE) for chunk in chunks)


@settings(max_examples=300)
@given(text=texts, limit=st.integers(16, 120), measure=measures)
def test_every_chunk_has_balanced_fences(text: str, limit: int, measure: Measure) -> None:
    """Each chunk but the last closes what it opens; the last does when the text does."""
    assume(fence_lines_fit(text, limit))
    chunks = split_for_limit(text, limit, measure=measure)
    for chunk in chunks[:-1]:
        assert open_fence_at_end(chunk) is None
    if chunks:
        assert (open_fence_at_end(chunks[-1]) is None) == (open_fence_at_end(text) is None)


@settings(max_examples=200)
@given(text=texts, limit=st.integers(16, 120))
def test_fence_state_carries_from_chunk_to_chunk(text: str, limit: int) -> None:
    """A chunk is closed iff it ends in a fence and is not last; the next one reopens it."""
    chunks = plan_chunks(text, limit)
    fence = None
    for index, chunk in enumerate(chunks):
        assert bool(chunk.reopen) == (fence is not None)
        last = index == len(chunks) - 1
        assert bool(chunk.close) == (chunk.fence_at_end is not None and not last)
        fence = chunk.fence_at_end


def test_split_surrogate_pair_is_joined() -> None:
    """Two halves of an emoji in two chunks come out as the emoji."""
    joiner = SurrogateJoiner()
    assert joiner.feed("ok \ud83d") == "ok "
    assert joiner.feed("\ude00!") == "😀!"
    assert joiner.finish() == ""


def test_lone_surrogate_becomes_a_replacement_character() -> None:
    """A half that never finds its partner is replaced, so it can be stored and sent."""
    joiner = SurrogateJoiner()
    assert joiner.feed("a\ude00b") == "a\ufffdb"
    assert joiner.feed("c\ud83d") == "c"
    assert joiner.finish() == "\ufffd"
