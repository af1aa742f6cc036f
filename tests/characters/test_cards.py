"""Importing cards of every kind and generation, and what normalisation makes of them."""

from __future__ import annotations

import copy
import json

from bot.characters.card import CharacterCard
from bot.characters.parse import card_from_json, read_card
from bot.characters.png import read_text_chunks
from tests.characters import samples


def test_v2_png_card_is_read_with_its_lorebook() -> None:
    """A SillyTavern V2 PNG gives the card's fields, its lorebook and its extensions."""
    imported = read_card(samples.png_card(chara=samples.v2_card()), filename="Aria.png")
    card = imported.card
    assert card.name == "Aria"
    assert card.description.startswith("{{char}} is a ship's navigator.")
    assert card.system_prompt == "{{original}} Stay in character."
    assert card.post_history_instructions == "Keep replies short."
    assert card.alternate_greetings == ("*Aria waves.*", "")
    inner = card.data["data"]
    assert isinstance(inner, dict)
    assert inner["character_book"] == samples.LOREBOOK
    assert inner["extensions"] == samples.v2_card()["data"]["extensions"]
    assert imported.warnings == ()


def test_png_avatar_is_the_image_without_card_chunks() -> None:
    """The avatar keeps the picture and drops the card text, which storage keeps anyway."""
    imported = read_card(samples.png_card(chara=samples.v2_card()))
    assert imported.avatar is not None
    assert imported.avatar == samples.tiny_png()
    assert set(read_text_chunks(imported.avatar)) == {"software"}


def test_data_fields_win_over_top_level_mirrors() -> None:
    """`data.*` is the truth; the stale V1 mirrors at the top level are not kept."""
    card = card_from_json(samples.v2_card())
    assert card.name == "Aria"
    assert card.personality == "calm, curious"
    assert "name" not in card.data
    assert "description" not in card.data


def test_a_mirror_fills_in_what_data_lacks() -> None:
    """A field missing (or null) under `data` is taken from the top level."""
    document = samples.v2_card()
    del document["data"]["personality"]
    document["data"]["scenario"] = None
    card = card_from_json(document)
    assert card.personality == "stale"
    assert card.scenario == "stale"


def test_ccv3_wins_over_chara() -> None:
    """With both chunks, the newer V3 card is the one imported."""
    png = samples.png_card(chara=samples.v2_card(), ccv3=samples.v3_card())
    card = read_card(png).card
    assert card.name == "Aria Velmire"
    assert card.data["spec"] == "chara_card_v3"


def test_broken_ccv3_falls_back_to_chara_with_a_warning() -> None:
    """A damaged ccv3 chunk does not lose a card that chara still holds."""
    png = samples.tiny_png(
        samples.text_chunk("chara", samples.b64json(samples.v2_card())),
        samples.text_chunk("ccv3", "not base64 at all!"),
    )
    imported = read_card(png)
    assert imported.card.name == "Aria"
    assert len(imported.warnings) == 1
    assert "ccv3" in imported.warnings[0]
    assert "chara" in imported.warnings[0]


def test_v3_card_keeps_assets_and_uses_its_nickname() -> None:
    """V3 fields are kept, and `{{char}}` becomes the nickname."""
    card = read_card(samples.png_card(ccv3=samples.v3_card())).card
    assert card.nickname == "Ari"
    assert card.char_name == "Ari"
    inner = card.data["data"]
    assert isinstance(inner, dict)
    for key in ("assets", "creator_notes_multilingual", "group_only_greetings", "source"):
        assert inner[key] == samples.v3_card()["data"][key]
    assert card.data["x_top_key"] == ["kept", "at", "the", "top"]


def test_newer_v3_version_imports_with_a_warning() -> None:
    """spec_version 3.1 is read as a float, found newer than 3.0, and imported anyway."""
    document = samples.v3_card()
    document["spec_version"] = "3.1"
    imported = read_card(json.dumps(document).encode())
    assert imported.card.name == "Aria Velmire"
    assert len(imported.warnings) == 1
    assert "3.1" in imported.warnings[0]
    assert "newer" in imported.warnings[0]


def test_v1_json_becomes_a_v2_card() -> None:
    """A V1 card gets the V2 shape, the V2 defaults and keeps its own extra keys."""
    imported = read_card(json.dumps(samples.v1_card()).encode(), filename="tom.json")
    card = imported.card
    assert (card.name, card.description, card.first_mes) == ("Old Tom", "A sailor.", "Arr.")
    assert card.data["spec"] == "chara_card_v2"
    assert card.data["spec_version"] == "2.0"
    assert card.data["x_v1_extra"] == 7
    assert card.data["data"] == {
        "name": "Old Tom",
        "description": "A sailor.",
        "personality": "gruff",
        "scenario": "A tavern.",
        "first_mes": "Arr.",
        "mes_example": "<START>\n{{char}}: Arr.",
        "creator_notes": "",
        "system_prompt": "",
        "post_history_instructions": "",
        "creator": "",
        "character_version": "",
        "tags": [],
        "alternate_greetings": [],
        "extensions": {"talkativeness": 0.5, "fav": False},
    }
    assert imported.avatar is None


def test_legacy_gradio_fields_are_mapped() -> None:
    """char_persona, char_greeting, world_scenario and example_dialogue find their V2 homes."""
    card = read_card(json.dumps(samples.legacy_card()).encode()).card
    assert card.name == "Pyg"
    assert card.description == "A helpful bot."
    assert card.first_mes == "Hello there!"
    assert card.scenario == "A chat room."
    assert card.mes_example == "You: hi\nPyg: hello"
    assert card.data["x_gradio_extra"] == "kept"
    assert "char_persona" not in card.data


def test_charx_card_and_its_main_icon() -> None:
    """A CHARX zip gives the card in card.json and the embedded main icon as avatar."""
    icon = samples.tiny_png(colour=9)
    archive = samples.charx(
        samples.v3_card(),
        {"assets/icon/images/main.png": icon, "assets/other/a.bin": b"\0\1"},
    )
    imported = read_card(archive, filename="aria.charx")
    assert imported.card == card_from_json(samples.v3_card())
    assert imported.avatar == icon
    assert imported.warnings == ()


def test_charx_prefers_the_icon_named_main() -> None:
    """The V3 spec's main icon is the avatar even when another icon comes first."""
    document = samples.v3_card()
    side = {"type": "icon", "uri": "embeded://assets/icon/images/side.png", "name": "side"}
    document["data"]["assets"].insert(0, side)
    main, other = samples.tiny_png(colour=1), samples.tiny_png(colour=2)
    files = {"assets/icon/images/main.png": main, "assets/icon/images/side.png": other}
    assert read_card(samples.charx(document, files)).avatar == main


def test_charx_with_a_missing_icon_warns() -> None:
    """An icon that the zip does not hold is reported, and the card still imports."""
    imported = read_card(samples.charx(samples.v3_card()))
    assert imported.avatar is None
    assert "missing" in imported.warnings[0]


def test_v2_defaults_are_filled_in() -> None:
    """Tags split at commas, a lone greeting becomes a list, null text becomes ""."""
    card = card_from_json(
        {
            "spec": "chara_card_v2",
            "data": {
                "name": "  Mira  ",
                "personality": None,
                "tags": " a, b ,,c ",
                "alternate_greetings": "Hi!",
                "extensions": {"talkativeness": 0.9, "x": 1},
            },
        }
    )
    inner = card.data["data"]
    assert isinstance(inner, dict)
    assert card.name == "Mira"
    assert card.personality == ""
    assert inner["tags"] == ["a", "b", "c"]
    assert card.alternate_greetings == ("Hi!",)
    assert inner["extensions"] == {"talkativeness": 0.9, "fav": False, "x": 1}
    assert card.data["spec_version"] == "2.0"
    assert inner["creator"] == ""


def test_v3_gets_group_only_greetings() -> None:
    """A V3 card without group_only_greetings gets the empty list the spec requires."""
    document = samples.v3_card()
    del document["data"]["group_only_greetings"]
    inner = card_from_json(document).data["data"]
    assert isinstance(inner, dict)
    assert inner["group_only_greetings"] == []


def test_stored_data_reads_back_equal() -> None:
    """What storage keeps (`card.data`) gives back the very same card."""
    for document in (
        samples.v1_card(),
        samples.legacy_card(),
        samples.v2_card(),
        samples.v3_card(),
    ):
        card = card_from_json(document)
        stored = json.loads(json.dumps(card.data))
        assert card_from_json(stored) == card


def test_reading_never_changes_the_input() -> None:
    """The caller's object is copied, not normalised in place."""
    document = samples.v2_card()
    before = copy.deepcopy(document)
    card = card_from_json(document)
    assert document == before
    document["data"]["extensions"]["x_tool"] = "changed"
    inner = card.data["data"]
    assert isinstance(inner, dict)
    assert inner["extensions"]["x_tool"] == {"nested": [None, 1.5, "ü"]}


def test_a_card_built_in_code_has_its_document() -> None:
    """A card made from fields alone gets the JSON object the parser would have made."""
    card = CharacterCard(name="Quill", first_mes="Hi", alternate_greetings=("Yo",))
    assert card.data["spec"] == "chara_card_v2"
    assert card_from_json(card.data) == card
    nicknamed = CharacterCard(name="Quill", nickname="Q")
    assert nicknamed.data["spec"] == "chara_card_v3"
    assert card_from_json(nicknamed.data) == nicknamed


def test_greetings_leave_out_empty_ones() -> None:
    """Swipes are the opening message and the alternates that say something."""
    card = CharacterCard(name="A", first_mes="", alternate_greetings=("x", "", "y"))
    assert card.greetings == ("x", "y")


def test_char_name_falls_back_to_the_name() -> None:
    """No nickname, or an empty one, leaves `{{char}}` as the name."""
    assert CharacterCard(name="A").char_name == "A"
    assert CharacterCard(name="A", nickname="").char_name == "A"


def test_json_with_a_byte_order_mark_is_read() -> None:
    """Windows editors save a BOM; it is not part of the JSON."""
    raw = b"\xef\xbb\xbf" + json.dumps(samples.v1_card()).encode()
    assert read_card(raw).card.name == "Old Tom"


def test_lone_surrogates_become_replacement_characters() -> None:
    """An escaped lone surrogate cannot be stored as UTF-8, so it is replaced on the way in."""
    raw = b'{"name": "A", "description": "x\\ud800y"}'
    card = read_card(raw).card
    assert card.description == "x\ufffdy"


def test_nul_characters_are_dropped() -> None:
    """PostgreSQL cannot store NUL in text or JSONB; a card carrying one still imports."""
    raw = b'{"name": "Ev\\u0000e", "description": "a\\u0000b", "extensions": {"k\\u0000": "v"}}'
    card = read_card(raw).card
    assert (card.name, card.description) == ("Eve", "ab")
    assert "\\u0000" not in json.dumps(card.data)
