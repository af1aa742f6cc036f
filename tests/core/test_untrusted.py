"""Untrusted text shown as a name, a status or an error: no escapes, controls or overrides.

The function on its own, then each edge where outside text becomes something shown: an
endpoint's error, a card's name, a model list.
"""

from __future__ import annotations

import json
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.characters.errors import CardError
from bot.characters.schema import card_from_json
from bot.core.errors import EndpointError, user_message
from bot.core.untrusted import safe_to_show
from bot.llm import refusals
from bot.llm.wire import model_ids, parse_chunk, parse_completion

HOSTILE = [
    "\x1b[31mred\x1b[0m",  # colour
    "\x1b]0;owned\x07",  # window title, ended by BEL
    "\x1b]8;;http://evil.example\x1b\\link\x1b]8;;\x1b\\",  # hyperlink, ended by ST
    "\x1b[2J\x1b[H",  # clear the screen, cursor home
    "\x1bc",  # reset the terminal
    "\x1b(0",  # line-drawing glyphs instead of letters
    "\x9b31m",  # the 8-bit CSI
    "\x9d0;title\x9c",  # the 8-bit OSC and ST
    "bell\x07",
    "nul\x00",
    "del\x7f",
    "back\x08\x08",
    "\u202eevil\u202c",  # right-to-left override, pop
    "\u2066isolate\u2069",
    "\u202aembed\u202c",
    "\x1b",  # a lone ESC
    "\x85next line",
]


def is_safe(text: str) -> bool:
    """No control character, bidirectional override or isolate, or lone surrogate."""
    return not any(
        unicodedata.category(char) in ("Cc", "Cs")
        or "\u202a" <= char <= "\u202e"
        or "\u2066" <= char <= "\u2069"
        for char in text
    )


@pytest.mark.parametrize("hostile", HOSTILE)
def test_hostile_text_is_made_safe(hostile: str) -> None:
    """Escapes, controls and overrides never survive, in one-line or multi-line form."""
    assert is_safe(safe_to_show(f"a{hostile}b"))
    assert is_safe(safe_to_show(f"a{hostile}b", lines=True).replace("\n", ""))


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("\x1b[31mred\x1b[0m alert", "red alert"),
        ("\x1b]0;owned\x07Bad key", "Bad key"),
        ("\x1b[1;31;40mbold", "bold"),
        ("Ali\u202ece", "Alice"),
        ("ding\x07dong", "dingdong"),
        ("a\x00b", "ab"),
        ("one\ntwo\tthree\r\nfour", "one two three  four"),
        ("lone \ud800 half", "lone \ufffd half"),
    ],
)
def test_sequences_go_whole_and_text_stays(given: str, shown: str) -> None:
    """An escape sequence leaves no "[31m" behind; the words around it are kept."""
    assert safe_to_show(given) == shown


def test_lines_keep_line_breaks_and_tabs() -> None:
    """Multi-line text keeps its shape; every kind of line break becomes "\\n"."""
    given = "one\ntwo\tcol\r\nthree\rfour\u2028five\x0bsix"
    assert safe_to_show(given, lines=True) == "one\ntwo\tcol\nthree\nfour\nfive\nsix"


@pytest.mark.parametrize(
    "text",
    [
        "Alice",
        "Zoë & Chloé",
        "עברית",  # right-to-left
        "مرحبا\u200f!",  # with a right-to-left mark, which stays
        "👩\u200d💻 coder",  # a zero-width joiner inside an emoji
        "日本語のキャラ",
        "a [bracket] and ~tilde~",
    ],
)
def test_ordinary_text_is_unchanged(text: str) -> None:
    """Names in any script, emoji and marks of direction are shown as written."""
    assert safe_to_show(text) == text
    assert safe_to_show(text, lines=True) == text


@given(st.text())
def test_any_text_comes_out_safe(text: str) -> None:
    """Whatever comes in, nothing unsafe comes out, and it encodes as UTF-8."""
    for shown in (safe_to_show(text), safe_to_show(text, lines=True)):
        assert is_safe(shown.replace("\n", "").replace("\t", ""))
        shown.encode("utf-8")


# The edges where outside text becomes a name, a status or an error.


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize(
    "body",
    [
        '{"error": {"message": "Bad %s key"}}',  # OpenAI
        '{"error": "Bad %s key"}',  # a bare string
        '{"detail": "Bad %s key"}',  # FastAPI
        '{"message": "Bad %s key"}',  # vLLM, Mistral
    ],
)
def test_an_endpoint_error_reaches_people_safe(body: str, hostile: str) -> None:
    """An endpoint's error text, in any of its shapes, is shown without its controls."""
    raw = body % json.dumps(hostile)[1:-1]
    said = refusals.provider_said(raw.encode())
    error = refusals.status_error(400, said)
    shown = user_message(error)
    assert is_safe(shown)
    assert "Bad" in shown
    assert "key" in shown


@pytest.mark.parametrize("hostile", HOSTILE)
def test_an_error_inside_a_stream_reaches_people_safe(hostile: str) -> None:
    """An error reported inside a 200 stream is shown without its controls."""
    chunk = json.dumps({"error": {"message": f"overloaded {hostile} now"}})
    with pytest.raises(EndpointError) as caught:
        parse_chunk(chunk)
    assert is_safe(user_message(caught.value))
    assert "overloaded" in user_message(caught.value)


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("field", ["name", "nickname"])
def test_a_card_name_is_read_safe(hostile: str, field: str) -> None:
    """A card's name and nickname lose their controls and overrides when the card is read."""
    card = card_from_json(
        {"spec": "chara_card_v3", "data": {"name": "Ann", field: f"Ev{hostile}e"}}
    )
    assert is_safe(card.name)
    assert is_safe(card.char_name)
    assert card.char_name.startswith("Ev")
    assert card.data["data"][field] == getattr(card, field)  # type: ignore[index]


def test_a_card_named_only_by_controls_has_no_name() -> None:
    """A name made of nothing but escapes is no name: the import says so."""
    with pytest.raises(CardError, match="no name"):
        card_from_json({"name": "\x1b[31m\u202e\x07"})


@pytest.mark.parametrize("hostile", HOSTILE)
def test_a_model_list_holds_no_unshowable_ids(hostile: str) -> None:
    """A model id nobody could see or type truthfully is left out of the list."""
    body = json.dumps({"data": [{"id": "good-model"}, {"id": f"bad{hostile}model"}]})
    assert model_ids(body.encode()) == ["good-model"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_model_a_reply_names_is_safe(hostile: str) -> None:
    """The model id a non-streamed answer reports (/test shows it) loses its controls."""
    body = {"model": f"gpt{hostile}-x", "choices": [{"message": {"content": "hi"}}]}
    completion = parse_completion(json.dumps(body).encode())
    assert completion.model is not None
    assert is_safe(completion.model)
    assert completion.model.startswith("gpt")
