"""The storage edge's text rule, for plain text and for JSON text."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.storable import storable_json_text, storable_text

CASES = [
    pytest.param("be\x00fore", "before", id="nul"),
    pytest.param("a \ud83d b", "a \ufffd b", id="lone-high"),
    pytest.param("a \ude00 b", "a \ufffd b", id="lone-low"),
    pytest.param("\ude00\ud83d", "\ufffd\ufffd", id="halves-in-the-wrong-order"),
    pytest.param("smile 😀", "smile 😀", id="astral-kept"),
    pytest.param("C:\\u0000\\ud83d", "C:\\u0000\\ud83d", id="backslash-u-text-kept"),
    pytest.param("\\\x00", "\\", id="backslash-then-nul"),
    pytest.param("café ü", "café ü", id="plain-unicode"),
]


@pytest.mark.parametrize(("raw", "stored"), CASES)
def test_text_is_made_storable(raw: str, stored: str) -> None:
    """NUL goes, a lone surrogate half becomes U+FFFD, everything else stays."""
    assert storable_text(raw) == stored


@pytest.mark.parametrize(("raw", "stored"), CASES)
def test_json_text_follows_the_same_rule_in_values_and_keys(raw: str, stored: str) -> None:
    """Serialised JSON reads back as if each string had been through `storable_text`."""
    value = {raw: [raw, {"nested": raw}], "n": 1.5, "none": None}
    assert json.loads(storable_json_text(value)) == {
        stored: [stored, {"nested": stored}],
        "n": 1.5,
        "none": None,
    }


@given(st.recursive(st.text(), lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner)))
def test_json_text_equals_cleaning_every_string_first(value: object) -> None:
    """For any JSON value of strings: cleaning the text equals cleaning each string."""

    def cleaned(item: object) -> object:
        if isinstance(item, str):
            return storable_text(item)
        if isinstance(item, list):
            return [cleaned(x) for x in item]
        if isinstance(item, dict):
            return {storable_text(k): cleaned(v) for k, v in item.items()}
        return item

    assert json.loads(storable_json_text(value)) == cleaned(value)
