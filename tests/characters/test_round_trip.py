"""Export and import again: every field and extension a card editor wrote survives."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.characters.card import CharacterCard
from bot.characters.errors import CardError
from bot.characters.export import card_to_json, card_to_png, to_document
from bot.characters.parse import card_from_json, read_card
from bot.characters.png import read_text_chunks
from bot.core.untrusted import safe_to_show
from tests.characters import samples
from tests.characters.test_png import walk


@pytest.mark.parametrize("make", [samples.v1_card, samples.legacy_card, samples.v2_card])
def test_v2_json_round_trip_is_exact(make: object) -> None:
    """read → V2 JSON → read gives an equal card, unknown keys and lorebook included."""
    assert callable(make)
    card = card_from_json(make())
    assert read_card(card_to_json(card, version=2)).card == card


def test_v3_json_round_trip_is_exact() -> None:
    """read → V3 JSON → read gives an equal card, assets and nickname included."""
    card = card_from_json(samples.v3_card())
    again = read_card(card_to_json(card, version=3))
    assert again.card == card
    assert again.warnings == ()


def test_v3_png_round_trip_is_exact() -> None:
    """read → PNG → read gives an equal card and the same picture."""
    imported = read_card(samples.png_card(ccv3=samples.v3_card()))
    again = read_card(card_to_png(imported.card, imported.avatar))
    assert again.card == imported.card
    assert again.avatar == imported.avatar


def test_v2_png_comes_back_as_its_v3_form() -> None:
    """The ccv3 chunk wins on reading, so a V2 card returns as V3 with nothing else changed."""
    imported = read_card(samples.png_card(chara=samples.v2_card()))
    again = read_card(card_to_png(imported.card, imported.avatar)).card
    assert again == card_from_json(to_document(imported.card, version=3))
    assert again.data["spec"] == "chara_card_v3"
    inner, before = again.data["data"], imported.card.data["data"]
    assert isinstance(inner, dict)
    assert isinstance(before, dict)
    assert {k: v for k, v in inner.items() if k != "group_only_greetings"} == before
    assert inner["group_only_greetings"] == []


def test_v2_png_chara_chunk_alone_is_exact() -> None:
    """A V2-only reader, reading the chara chunk, gets the card exactly as it was."""
    card = read_card(samples.png_card(chara=samples.v2_card())).card
    chara = read_text_chunks(card_to_png(card, None))["chara"]
    assert card_from_json(json.loads(base64.b64decode(chara))) == card


def test_v2_json_has_spec_and_v1_mirrors() -> None:
    """V2 export writes the spec label and repeats the V1 fields at the top, as ST does."""
    card = card_from_json(samples.v2_card())
    document = json.loads(card_to_json(card))
    assert (document["spec"], document["spec_version"]) == ("chara_card_v2", "2.0")
    assert document["name"] == document["data"]["name"] == "Aria"
    assert document["personality"] == "calm, curious"
    assert document["x_top_key"] == "kept at the top"
    assert document["chat"] == "Aria - 2024-01-01"


def test_v3_json_of_a_v2_card() -> None:
    """V3 export relabels the card and adds the greetings list V3 requires."""
    card = card_from_json(samples.v1_card())
    document = json.loads(card_to_json(card, version=3))
    assert (document["spec"], document["spec_version"]) == ("chara_card_v3", "3.0")
    assert document["data"]["group_only_greetings"] == []
    assert "name" not in document


def test_json_is_readable_utf8() -> None:
    """The file is indented UTF-8 with non-ASCII characters written as themselves."""
    raw = card_to_json(card_from_json(samples.v3_card()), version=3)
    text = raw.decode("utf-8")
    assert "日本語のメモ" in text
    assert "\\u" not in text
    assert '\n  "spec": "chara_card_v3"' in text


def test_png_without_an_image_uses_the_placeholder() -> None:
    """A card with no picture is written into a valid grey square."""
    png = card_to_png(CharacterCard(name="Quill"), None)
    kinds = [kind for kind, _ in walk(png)]
    assert kinds[0] == b"IHDR"
    assert kinds[-3:] == [b"tEXt", b"tEXt", b"IEND"]
    assert read_card(png).card.name == "Quill"


def test_png_export_keeps_the_picture() -> None:
    """The avatar's own chunks are untouched by writing the card into it."""
    picture = samples.tiny_png(colour=42)
    imported = read_card(card_to_png(CharacterCard(name="Quill"), picture))
    assert imported.avatar == picture


def test_png_export_refuses_an_image_that_is_not_png() -> None:
    """A JPEG avatar cannot carry text chunks; the error says so instead of writing junk."""
    with pytest.raises(CardError, match="not a PNG"):
        card_to_png(CharacterCard(name="Quill"), b"\xff\xd8\xff\xe0 a jpeg")


_ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=60)
_NAME = st.text(st.characters(codec="utf-8"), min_size=1, max_size=60).filter(
    lambda name: name == name.strip() and safe_to_show(name).strip() != ""
)


@settings(max_examples=150, deadline=None)
def _without_nul(value: object) -> object:
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, tuple):
        return tuple(_without_nul(item) for item in value)
    return value


@given(
    name=_NAME,
    texts=st.lists(_ANY_TEXT, min_size=8, max_size=8),
    greetings=st.lists(_ANY_TEXT, max_size=3),
    nickname=st.none() | _ANY_TEXT,
)
@example(
    name="\U0001f680 A\x00B",
    texts=["\x00", "a\r\nb\rc\n", "\U0010ffff", "\u2028\u2029", "", " ", "\ufeff", "é\u0301"],
    greetings=["", "\x00"],
    nickname="\U0001d518",
)
def test_any_text_survives_a_png_round_trip(
    name: str, texts: list[str], greetings: list[str], nickname: str | None
) -> None:
    """Non-BMP characters, CR and LF in every text come back out of a PNG unchanged; NUL,
    which PostgreSQL cannot store, is the one character dropped on the way in."""
    card = CharacterCard(name, *texts, alternate_greetings=tuple(greetings), nickname=nickname)
    again = read_card(card_to_png(card, None)).card
    fields = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
    more = ("system_prompt", "post_history_instructions", "creator_notes", "alternate_greetings")
    for field in (*fields[1:], *more):
        assert getattr(again, field) == _without_nul(getattr(card, field)), field
    # A name is shown to people and terminals, so it loses its controls
    # (tests/core/test_untrusted.py).
    assert again.name == safe_to_show(name).strip()
    assert again.nickname == (None if nickname is None else safe_to_show(nickname))
    assert read_card(card_to_png(again, None)).card == again
