"""Example dialogue parsing: the reference's vectors E1-E5 (user Bob, char Alice) and its edges."""

from __future__ import annotations

import pytest

from bot.core.domain import ChatMessage, Role
from bot.prompt.examples import parse_examples, split_blocks


def eu(content: str) -> ChatMessage:
    return ChatMessage(Role.SYSTEM, content, name="example_user")


def ea(content: str) -> ChatMessage:
    return ChatMessage(Role.SYSTEM, content, name="example_assistant")


def parse(text: str) -> list[list[ChatMessage]]:
    return parse_examples(text, user="Bob", char="Alice")


E1 = (
    "<START>\nBob: Hi there\nAlice: *waves* Hello!\nHow are you?\n"
    "<START>\nBob: Bye\nAlice: See you."
)
E2 = "Bob: no start tag\nAlice: ok"
E3 = "<start>\nAlice: I speak first\nBob: fine\n\nAlice: again"
E4 = "<START>\nNarration line\nBob: hi\nAlice: hey"


def test_e1_blocks() -> None:
    """E1: two `<START>` blocks, each closed with a newline."""
    assert split_blocks(E1) == [
        "<START>\nBob: Hi there\nAlice: *waves* Hello!\nHow are you?\n",
        "<START>\nBob: Bye\nAlice: See you.\n",
    ]


def test_e1_messages() -> None:
    """E1: a continuation line joins the speaker's turn; names and edges are stripped."""
    assert parse(E1) == [
        [eu("Hi there"), ea("*waves* Hello!\nHow are you?")],
        [eu("Bye"), ea("See you.")],
    ]


def test_e2_text_without_start_is_one_block() -> None:
    """E2: text that does not open with `<START>` becomes one block."""
    assert split_blocks(E2) == ["<START>\nBob: no start tag\nAlice: ok\n"]
    assert parse(E2) == [[eu("no start tag"), ea("ok")]]


def test_e3_blocks_keep_the_reference_quirk() -> None:
    """E3: a lower-case `<start>` opening still yields the reference's empty first block."""
    assert split_blocks(E3) == [
        "<START>\n\n",
        "<START>\nAlice: I speak first\nBob: fine\n\nAlice: again\n",
    ]


def test_e3_messages_skip_the_empty_block() -> None:
    """E3, where we differ on purpose: the reference returns `[[], [...]]`, we drop the `[]`.

    The reference then sends an `[Example Chat]` header with nothing under it, which costs
    tokens and shows the model an empty example; so an empty block is left out.
    """
    assert parse(E3) == [[ea("I speak first"), eu("fine"), ea("again")]]


def test_e4_leading_narration_sticks_to_the_first_speaker() -> None:
    """E4: lines before the first speaker open that speaker's turn, name removed once."""
    assert parse(E4) == [[eu("Narration line\n hi"), ea("hey")]]


@pytest.mark.parametrize("text", ["", "<START>"])
def test_e5_nothing_gives_no_blocks(text: str) -> None:
    """E5: empty text or a lone `<START>` gives no blocks at all."""
    assert split_blocks(text) == []
    assert parse(text) == []


def test_whitespace_only_text_gives_no_examples() -> None:
    """Blank example text makes an empty block, which is dropped."""
    assert split_blocks("  \n ") == ["<START>\n\n"]
    assert parse("  \n ") == []


def test_block_without_a_known_speaker_is_dropped() -> None:
    """A block of lines by no known speaker has no messages, so it is left out."""
    assert parse("<START>\njust prose\n<START>\nBob: hi") == [[eu("hi")]]


def test_start_tag_is_split_case_insensitively() -> None:
    """A later `<start>` in any case still starts a new block."""
    assert parse("<START>\nBob: a\n<Start>\nAlice: b") == [[eu("a")], [ea("b")]]


def test_same_speaker_lines_stay_one_turn() -> None:
    """Two lines by one speaker are one message; only the first name is removed."""
    assert parse("<START>\nBob: a\nBob: b\nAlice: c") == [[eu("a\nBob: b"), ea("c")]]


def test_carriage_returns_are_ignored() -> None:
    """CRLF text parses like LF text."""
    assert parse(E1.replace("\n", "\r\n")) == parse(E1)


def test_name_must_open_the_line() -> None:
    """`Alice:` inside a line is part of the text, not a new turn."""
    assert parse("<START>\nBob: I said Alice: hi\nAlice: ok") == [
        [eu("I said Alice: hi"), ea("ok")]
    ]
