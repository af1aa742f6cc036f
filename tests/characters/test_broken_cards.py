"""Broken files: each one is a `CardError` whose words tell a user what is wrong."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import pytest

from bot.characters.errors import MAX_CARD_FILE_BYTES, MAX_CARD_JSON_BYTES, CardError
from bot.characters.export import card_to_png
from bot.characters.parse import card_from_json, read_card
from bot.characters.png import placeholder_png
from bot.core.errors import UsageError, user_message
from tests.characters import samples


def _json(document: object) -> bytes:
    return json.dumps(document).encode()


def _with_data(**fields: object) -> bytes:
    document = samples.v2_card()
    document["data"].update(fields)
    return _json(document)


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _wrong_crc() -> bytes:
    png = bytearray(samples.png_card(chara=samples.v1_card()))
    png[png.index(b"chara\0") + 10] ^= 0x01
    return bytes(png)


def _huge_json_card() -> bytes:
    return _json({"name": "Big", "description": "x" * MAX_CARD_JSON_BYTES})


def _huge_chunk() -> bytes:
    return samples.tiny_png(samples.text_chunk("chara", "QUJD" * (MAX_CARD_JSON_BYTES // 3 + 1)))


def _zip_bomb() -> bytes:
    """card.json of 6 MiB that compresses to a few kilobytes."""
    return _zip({"card.json": b'{"name": "Bomb", "description": "' + b" " * (6 << 20) + b'"}'})


CASES: dict[str, tuple[Callable[[], bytes], list[str]]] = {
    "bad base64": (
        lambda: samples.tiny_png(samples.text_chunk("ccv3", "eyJu*YW1l")),
        ["ccv3 chunk is not valid base64", "Export the card again"],
    ),
    "bad json file": (
        lambda: b'{"name": "A",\n "description": }',
        ["JSON is broken", "line 2, column 17"],
    ),
    "bad json in png": (
        lambda: samples.tiny_png(samples.text_chunk("chara", "eyJuYW1lIjo=")),
        ["JSON is broken", "line 1, column"],
    ),
    "missing name": (
        lambda: _json({"spec": "chara_card_v2", "data": {"description": "x"}}),
        ["has no name"],
    ),
    "empty name": (lambda: _with_data(name=" \n\t "), ["has no name"]),
    "long name": (lambda: _with_data(name="n" * 201), ["201 characters", "limit is 200"]),
    "oversized file": (
        lambda: samples.PNG_SIGNATURE + b"\0" * MAX_CARD_FILE_BYTES,
        ["too large (20.0 MB; the limit is 20 MB)"],
    ),
    "oversized json": (_huge_json_card, ["too large", "the limit is 5 MB"]),
    "oversized chunk": (_huge_chunk, ["too large", "the limit is 5 MB"]),
    "zip bomb": (_zip_bomb, ["card.json unpacks to more than 5 MB"]),
    "truncated png": (
        lambda: card_to_png(card_from_json(samples.v1_card()), None)[:-30],
        ["cut short"],
    ),
    "wrong crc": (_wrong_crc, ["damaged", "checksum"]),
    "plain image": (placeholder_png, ["no character data", "no chara or ccv3"]),
    "zip without card.json": (lambda: _zip({"cards/card.json": b"{}"}), ["no card.json"]),
    "damaged zip": (lambda: b"PK\x03\x04" + b"\0" * 40, ["CHARX file is damaged"]),
    "number for text": (lambda: _with_data(personality=42), ['"personality"', "not a number"]),
    "object for text": (lambda: _with_data(first_mes={"a": 1}), ['"first_mes"', "an object"]),
    "wrong tags": (lambda: _with_data(tags=[1, 2]), ['"tags"', "list of texts"]),
    "wrong extensions": (lambda: _with_data(extensions="x"), ['"extensions"', "an object"]),
    "wrong nickname": (lambda: _with_data(nickname=True), ['"nickname"', "true or false"]),
    "data not an object": (
        lambda: _json({"spec": "chara_card_v2", "data": ["x"]}),
        ['"data"', "a list"],
    ),
    "not a card file": (lambda: b"GIF89a\x01\x00", ["not a PNG, JSON or CHARX file"]),
    "json that is no card": (lambda: _json({"temperature": 1}), ["not a character card"]),
    "lorebook": (lambda: _json({"spec": "lorebook_v3", "data": {}}), ["lorebook"]),
    "not utf-8": (lambda: b'{"name": "\xff\xfe"}', ["not UTF-8"]),
    "nan": (lambda: b'{"name": "A", "x": NaN}', ["JSON is broken", "NaN"]),
    "deep nesting": (lambda: b'{"name": ' + b"[" * 200_000, ["nested too deeply"]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_broken_input_says_what_is_wrong(name: str) -> None:
    """The message names the problem, and reaches the user word for word."""
    build, expected = CASES[name]
    with pytest.raises(CardError) as caught:
        read_card(build())
    message = str(caught.value)
    for words in expected:
        assert words in message
    assert isinstance(caught.value, UsageError)
    assert user_message(caught.value) == message


@pytest.mark.parametrize("name", list(CASES))
def test_messages_read_as_sentences_not_internals(name: str) -> None:
    """No traceback, no Python repr, no raw bytes: a sentence starting with a capital."""
    build, _ = CASES[name]
    with pytest.raises(CardError) as caught:
        read_card(build())
    message = str(caught.value)
    assert message[0].isupper()
    assert message.endswith(".")
    for internal in ("Traceback", "Error(", "b'", "\\x", "<", "None", "{'"):
        assert internal not in message
    assert len(message) < 300


def test_the_filename_is_named_when_the_kind_is_unknown() -> None:
    """A user who sent the wrong file sees which one."""
    with pytest.raises(CardError, match=r'"notes\.txt" is not a PNG, JSON or CHARX file'):
        read_card(b"just some notes", filename="notes.txt")


def test_a_json_filename_gets_the_json_error() -> None:
    """A .json file that does not start with `{` is reported as broken JSON, not as unknown."""
    with pytest.raises(CardError, match="JSON is broken"):
        read_card(b"name: Aria", filename="aria.JSON")


def test_a_json_list_is_not_a_card() -> None:
    """Valid JSON of the wrong shape is told apart from broken JSON."""
    with pytest.raises(CardError, match="JSON is a list or a value, not a character card"):
        read_card(b"[1, 2]", filename="cards.json")


def test_null_text_fields_are_not_errors() -> None:
    """Null is "missing", which the spec says means ""; only other types are refused."""
    document = samples.v3_card()  # no top-level mirrors to fall back on
    document["data"].update(scenario=None, creator_notes=None)
    card = read_card(_json(document)).card
    assert card.scenario == ""
    assert card.creator_notes == ""


def test_encrypted_charx_is_refused() -> None:
    """A password-protected member is refused with a way out, not read as garbage."""
    archive = bytearray(samples.charx(samples.v1_card()))
    for header in (b"PK\x03\x04", b"PK\x01\x02"):  # set the encrypted flag in both headers
        at = archive.index(header)
        flag_offset = at + (6 if header == b"PK\x03\x04" else 8)
        archive[flag_offset] |= 0x01
    with pytest.raises(CardError, match="password-protected"):
        read_card(bytes(archive))
