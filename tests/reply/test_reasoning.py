"""Reasoning apart from the answer: reference vectors R1-R4 streamed at every split, and display."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.reply.reasoning import (
    MAX_HELD_WHITESPACE,
    REASONING_MAX_CHARS,
    THINKING_LINE,
    ReasoningDisplay,
    ReasoningPresenter,
    Split,
    ThinkSplitter,
    present,
    split_reasoning,
)

VECTORS = [
    pytest.param(
        "<think>\nPlan the reply.\n</think>\nHello!", "Hello!", "Plan the reply.", id="R1"
    ),
    pytest.param("  <think>a</think>b", "b", "a", id="R2"),
    pytest.param("Hello <think>x</think>", "Hello <think>x</think>", "", id="R3"),
    pytest.param("<think>unfinished", "", "unfinished", id="R4"),
]


def stream(pieces: Iterable[str], *, expect_open_think: bool = False) -> Split:
    """Feed `pieces` one by one and join everything the splitter produced."""
    splitter = ThinkSplitter(expect_open_think=expect_open_think)
    splits = [splitter.feed(piece) for piece in pieces] + [splitter.finish()]
    return Split("".join(s.answer for s in splits), "".join(s.reasoning for s in splits))


@pytest.mark.parametrize(("text", "answer", "reasoning"), VECTORS)
def test_vector_fed_whole(text: str, answer: str, reasoning: str) -> None:
    """A reply fed in one delta splits as its vector says."""
    assert stream([text]) == Split(answer, reasoning)


@pytest.mark.parametrize(("text", "answer", "reasoning"), VECTORS)
def test_vector_fed_in_two_at_every_position(text: str, answer: str, reasoning: str) -> None:
    """A tag cut anywhere between two deltas splits the same."""
    for cut in range(len(text) + 1):
        assert stream([text[:cut], text[cut:]]) == Split(answer, reasoning), cut


@pytest.mark.parametrize(("text", "answer", "reasoning"), VECTORS)
def test_vector_fed_one_character_at_a_time(text: str, answer: str, reasoning: str) -> None:
    """One-character deltas split the same."""
    assert stream(text) == Split(answer, reasoning)


def test_split_reasoning_matches_the_stream() -> None:
    """The one-shot helper applies the streaming rules."""
    assert split_reasoning("<think>\nPlan\n</think>\n\nHi") == Split("Hi", "Plan")


@pytest.mark.parametrize("tag", ["thinking", "reasoning"])
def test_variant_tags_are_recognised(tag: str) -> None:
    """<thinking> and <reasoning> blocks split like <think>."""
    assert stream(f"<{tag}>plan</{tag}>answer") == Split("answer", "plan")


def test_variant_block_closes_only_with_its_own_tag() -> None:
    """A </think> inside a <thinking> block is reasoning text."""
    assert stream("<thinking>a</think>b</thinking>c") == Split("c", "a</think>b")


def test_end_only_form_with_the_flag_is_reasoning_until_the_close() -> None:
    """With expect_open_think, the text before </think> is reasoning."""
    assert stream("Plan it.\n</think>\n\nHi!", expect_open_think=True) == Split("Hi!", "Plan it.")


def test_end_only_form_split_at_every_position() -> None:
    """The end-only close tag may be cut anywhere between deltas."""
    text = "Plan it.</think>Hi!"
    for cut in range(len(text) + 1):
        pieces = [text[:cut], text[cut:]]
        assert stream(pieces, expect_open_think=True) == Split("Hi!", "Plan it."), cut


def test_flag_tolerates_a_repeated_opening_tag() -> None:
    """With expect_open_think, a model that writes <think> anyway is not shown the tag."""
    assert stream("<think>Plan</think>Hi", expect_open_think=True) == Split("Hi", "Plan")


def test_flag_without_close_is_all_reasoning() -> None:
    """With expect_open_think, a reply that never closes the block is unfinished reasoning."""
    assert stream("still thinking", expect_open_think=True) == Split("", "still thinking")


def test_end_only_form_without_the_flag_is_answer() -> None:
    """Without the flag, a stray </think> is answer text: it cannot be known in time."""
    assert stream("Plan.</think>Hi") == Split("Plan.</think>Hi", "")


def test_think_mid_answer_is_left_alone() -> None:
    """A <think> after the answer began is answer text (R3)."""
    assert stream(["Sure. ", "<think>", "x</think> done"]) == Split(
        "Sure. <think>x</think> done", ""
    )


def test_second_block_after_the_first_is_answer() -> None:
    """Only the leading block is reasoning; a later one stays in the answer."""
    assert stream("<think>a</think>b<think>c</think>") == Split("b<think>c</think>", "a")


def test_partial_opening_tag_is_held_back() -> None:
    """A delta that could still become an opening tag shows nothing yet."""
    splitter = ThinkSplitter()
    assert splitter.feed("<thi") == Split()
    assert splitter.feed("nk>") == Split()
    assert splitter.feed("x") == Split(reasoning="x")


def test_text_that_cannot_be_a_tag_is_shown_at_once() -> None:
    """Text that no tag starts with is answer the moment it arrives."""
    assert ThinkSplitter().feed("Hello <") == Split(answer="Hello <")


@pytest.mark.parametrize("tag", ["<think>", "<thinking>", "<reasoning>"])
def test_held_back_window_is_at_most_a_tag_prefix(tag: str) -> None:
    """A tag prefix is released whole as soon as the next character rules the tag out."""
    for size in range(1, len(tag)):
        splitter = ThinkSplitter()
        assert splitter.feed(tag[:size]) == Split()
        assert splitter.feed("!") == Split(answer=tag[:size] + "!")


def test_leading_whitespace_then_text_is_unchanged() -> None:
    """Without a block the content keeps its leading whitespace."""
    assert stream(["\n ", "Hi"]) == Split("\n Hi", "")


def test_reasoning_streams_before_the_close() -> None:
    """Reasoning appears as it arrives, holding back only a possible closing-tag prefix."""
    splitter = ThinkSplitter()
    assert splitter.feed("<think>Step one") == Split(reasoning="Step one")
    assert splitter.feed(" then</th") == Split(reasoning=" then")
    assert splitter.feed("ink> Done") == Split(answer="Done")


def test_unfinished_partial_close_is_reasoning() -> None:
    """A reply cut off inside the closing tag keeps those characters as reasoning."""
    assert stream(["<think>a</thi"]) == Split("", "a</thi")


def test_partial_opening_tag_at_the_end_is_answer() -> None:
    """A reply that is only the start of a tag is shown as it is."""
    assert stream(["<thin"]) == Split("<thin", "")


def test_feed_after_finish_is_refused() -> None:
    """A splitter serves one reply."""
    splitter = ThinkSplitter()
    splitter.finish()
    with pytest.raises(RuntimeError):
        splitter.feed("more")


TAGS = ("think", "thinking", "reasoning")
PIECES = [f"<{t}>" for t in TAGS] + [f"</{t}>" for t in TAGS]
PIECES += ["<", ">", "/", "th", "ink", "a", "b c", " ", "\n", "\t", "é", "😀"]


def oracle(text: str) -> Split:
    """The reference's parse of a finished reply, with the answer's trailing whitespace kept."""
    for tag in TAGS:
        match = re.match(rf"\s*<{tag}>(.*?)</{tag}>", text, re.DOTALL)
        if match:
            return Split(text[match.end() :].lstrip(), match.group(1).strip())
        if text.lstrip().startswith(f"<{tag}>"):
            return Split("", text.lstrip()[len(tag) + 2 :].strip())
    return Split(text, "")


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(st.sampled_from(PIECES), max_size=20),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6),
)
def test_any_split_agrees_with_the_whole_reply_parse(pieces: list[str], cuts: list[int]) -> None:
    """However a reply is cut into deltas, the result is the reference's parse of the whole."""
    text = "".join(pieces)
    bounds = sorted({0, len(text), *(min(cut, len(text)) for cut in cuts)})
    deltas = [text[start:end] for start, end in itertools.pairwise(bounds)]
    assert stream(deltas) == oracle(text)


def test_hide_shows_only_the_answer() -> None:
    """HIDE drops the reasoning."""
    assert present("Hi!", "Plan.", ReasoningDisplay.HIDE, thinking=False) == "Hi!"


def test_hide_while_thinking_shows_a_sign_of_life() -> None:
    """HIDE shows the thinking line while reasoning streams and no answer exists."""
    assert present("", "Plan", ReasoningDisplay.HIDE, thinking=True) == THINKING_LINE


def test_quote_puts_every_line_in_a_block_quote() -> None:
    """QUOTE shows each reasoning line quoted, a blank line, then the answer."""
    text = present("Hi!", "Plan.\n\nCheck.", ReasoningDisplay.QUOTE, thinking=False)
    assert text == "> Plan.\n> \n> Check.\n\nHi!"


def test_quote_while_thinking_shows_the_growing_quote() -> None:
    """QUOTE shows the reasoning so far, and nothing else, while it streams."""
    assert present("", "Plan", ReasoningDisplay.QUOTE, thinking=True) == "> Plan"


def test_spoiler_hides_reasoning_behind_spoiler_marks() -> None:
    """SPOILER wraps the reasoning in || marks above the answer."""
    assert present("Hi!", "Plan.", ReasoningDisplay.SPOILER, thinking=False) == "||Plan.||\n\nHi!"


def test_spoiler_escapes_pipes_inside_reasoning() -> None:
    """A || (or a trailing backslash) in the reasoning cannot close the spoiler early."""
    text = present("Hi", "a || b |\\", ReasoningDisplay.SPOILER, thinking=False)
    assert text == "||a \\|\\| b \\|\\\\||\n\nHi"


def test_no_reasoning_shows_the_answer_alone() -> None:
    """Without reasoning no empty quote or spoiler is drawn."""
    assert present("Hi", "  ", ReasoningDisplay.QUOTE, thinking=False) == "Hi"


def test_no_reasoning_yet_while_thinking_shows_the_thinking_line() -> None:
    """Any mode shows the thinking line before the first reasoning character arrives."""
    assert present("", "", ReasoningDisplay.SPOILER, thinking=True) == THINKING_LINE


def test_long_reasoning_keeps_its_tail() -> None:
    """Reasoning over the cap shows an ellipsis and its most recent part."""
    reasoning = " ".join(f"w{i}" for i in range(2000))
    text = present("", reasoning, ReasoningDisplay.QUOTE, thinking=True)
    assert text.startswith("> …w")
    assert text.endswith("w1999")
    assert len(text) <= REASONING_MAX_CHARS + 2


def test_capped_reasoning_starts_at_a_word() -> None:
    """The cut lands at a word boundary, not inside a word."""
    reasoning = " ".join(f"word{i}" for i in range(1000))
    shown = present("", reasoning, ReasoningDisplay.SPOILER, thinking=True)
    assert re.match(r"\|\|…word\d+ ", shown)


def show(mode: ReasoningDisplay, reasoning: Iterable[str], answer: Iterable[str] = ()) -> str:
    """What a ReasoningPresenter appends for reasoning pieces, then answer pieces, then close."""
    presenter = ReasoningPresenter(mode)
    parts = [presenter.reasoning(piece) for piece in reasoning]
    parts += [presenter.answer(piece) for piece in answer]
    return "".join(parts) + presenter.close()


def test_presenter_quotes_reasoning_above_the_answer() -> None:
    """QUOTE appends quoted reasoning lines, a blank line, then the answer."""
    text = show(ReasoningDisplay.QUOTE, ["\nPlan.", "\n", "Check.\n"], ["\nHi", " there"])
    assert text == "> Plan.\n> Check.\n\nHi there"


def test_presenter_closes_the_spoiler_when_the_answer_starts() -> None:
    """SPOILER opens || with the reasoning and closes it before the answer."""
    assert show(ReasoningDisplay.SPOILER, ["a |", "| b"], ["Hi"]) == "||a \\|\\| b||\n\nHi"


def test_presenter_closes_a_spoiler_without_answer() -> None:
    """A reply that is only reasoning still gets its closing spoiler marks."""
    assert show(ReasoningDisplay.SPOILER, ["plan"]) == "||plan||"


def test_presenter_hide_appends_only_the_answer() -> None:
    """HIDE appends nothing for reasoning."""
    assert show(ReasoningDisplay.HIDE, ["plan"], ["Hi"]) == "Hi"


def test_presenter_caps_reasoning_at_its_head() -> None:
    """An append-only reply keeps the first REASONING_MAX_CHARS of reasoning, then "…"."""
    text = show(ReasoningDisplay.SPOILER, ["x" * 1000, "y" * 1000], ["Hi"])
    assert text == "||" + "x" * 1000 + "y" * (REASONING_MAX_CHARS - 1000) + "…||\n\nHi"


def test_presenter_ignores_reasoning_after_the_answer_began() -> None:
    """Reasoning that arrives after the answer cannot go above it, so it is not shown."""
    presenter = ReasoningPresenter(ReasoningDisplay.QUOTE)
    presenter.answer("Hi")
    assert presenter.reasoning("late thought") == ""


def test_presenter_close_is_idempotent() -> None:
    """Closing twice writes the closing marks once."""
    presenter = ReasoningPresenter(ReasoningDisplay.SPOILER)
    presenter.reasoning("plan")
    assert (presenter.close(), presenter.close()) == ("||", "")


fragments = st.text(alphabet=st.sampled_from("ab |\\\n "), max_size=12)


@settings(max_examples=200, deadline=None)
@given(
    mode=st.sampled_from(list(ReasoningDisplay)),
    reasoning=st.lists(fragments, max_size=5),
    answer=st.lists(fragments, max_size=5),
)
def test_presenter_appends_what_present_renders(
    mode: ReasoningDisplay, reasoning: list[str], answer: list[str]
) -> None:
    """Appending the presenter's pieces gives present()'s finished text."""
    expected = present("".join(answer), "".join(reasoning), mode, thinking=False)
    assert show(mode, reasoning, answer) == expected


@pytest.mark.parametrize(
    ("opening", "pieces", "closing", "thought"),
    [
        pytest.param("", [" " * 1000] * 10_000, "Hello", "", id="before-the-answer"),
        pytest.param("<think>a", ["\n\t "] * 50_000, "b</think>Hi", "ab", id="inside-reasoning"),
        pytest.param("<think>a", [" " * 1000] * 10_000, "", "a", id="reasoning-never-closed"),
    ],
)
def test_a_flood_of_whitespace_is_not_held_without_limit(
    opening: str, pieces: list[str], closing: str, thought: str
) -> None:
    """Megabytes of whitespace waiting for a decision keep at most MAX_HELD_WHITESPACE of it."""
    splitter = ThinkSplitter()
    out = [splitter.feed(opening), *(splitter.feed(piece) for piece in pieces)]
    out += [splitter.feed(closing), splitter.finish()]
    answer, reasoning = "".join(s.answer for s in out), "".join(s.reasoning for s in out)
    assert len(answer) + len(reasoning) <= MAX_HELD_WHITESPACE + 10
    assert answer.strip() == closing.rpartition(">")[2]
    assert "".join(reasoning.split()) == thought
