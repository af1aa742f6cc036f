"""Hostile files refused in one line, before the work they would cost: time and memory bounded."""

from __future__ import annotations

import base64
import json
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from bot.characters.errors import MAX_CARD_JSON_VALUES, CardError
from bot.characters.parse import read_card
from tests.characters import bombs, samples
from tests.characters.bombs import MIB

TOM = samples.v1_card()


@contextmanager
def peak_memory() -> Iterator[list[int]]:
    """The most memory Python allocated inside the block, in bytes, as the list's one item."""
    peak = [0]
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak[0] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()


def refusal(data: bytes) -> str:
    with pytest.raises(CardError) as caught:
        read_card(data)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("shape", ["text", "empty", "card"])
def test_a_png_of_countless_tiny_chunks_is_refused(shape: str) -> None:
    """300,000 chunks in 4 MB: refused for its chunk count, never walked to the end."""
    png = bombs.chunk_bomb(TOM, chunks=300_000, shape=shape)
    with peak_memory() as peak:
        message = refusal(png)
    assert message.startswith("The PNG holds more than 20,000 chunks")
    assert peak[0] < 2 * MIB


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
@pytest.mark.parametrize("keyword", ["chara", "ccv3", "CHARA"])
def test_a_compressed_card_chunk_that_unpacks_too_far_is_refused(kind: str, keyword: str) -> None:
    """A few hundred KB that inflate to 200 MB: unpacking stops at the limit."""
    png = bombs.text_bomb(kind, keyword=keyword)
    with peak_memory() as peak:
        message = refusal(png)
    assert f"The PNG's {keyword} chunk unpacks to more than 10 MB, the limit." in message
    assert peak[0] < 25 * MIB


@pytest.mark.parametrize("kind", ["zTXt", "iTXt"])
def test_a_compression_bomb_in_another_chunk_is_never_unpacked(kind: str) -> None:
    """Only the card's chunks are unpacked: a bomb under any other keyword costs nothing."""
    png = bombs.text_bomb(kind, keyword="Comment")
    card_chunk = samples.text_chunk("chara", samples.b64json(TOM))
    png = png[:-12] + card_chunk + png[-12:]
    with peak_memory() as peak:
        assert read_card(png).card.name == "Old Tom"
    assert peak[0] < 2 * MIB


@pytest.mark.parametrize("kind", ["zTXt", "iTXt packed", "iTXt plain"])
def test_a_card_in_a_compressed_or_international_chunk_is_read(kind: str) -> None:
    """Some tools write the card as zTXt or iTXt: the card is read all the same."""
    text = samples.b64json(TOM).encode()
    if kind == "zTXt":
        card_chunk = bombs.ztxt_chunk("chara", zlib.compress(text))
    else:
        packed = kind == "iTXt packed"
        card_chunk = bombs.itxt_chunk(
            "ccv3", zlib.compress(text) if packed else text, packed=packed
        )
    imported = read_card(samples.tiny_png(card_chunk))
    assert imported.card.name == "Old Tom"
    assert card_chunk not in (imported.avatar or b"")


def test_a_plain_card_chunk_wins_over_a_compressed_one() -> None:
    """SillyTavern reads only tEXt: a tEXt chara after a broken iTXt chara is the card."""
    broken = bombs.itxt_chunk("chara", b"not zlib", packed=True)
    plain = samples.text_chunk("chara", samples.b64json(TOM))
    assert read_card(samples.tiny_png(broken, plain)).card.name == "Old Tom"


def test_a_cut_compressed_chunk_is_named_as_damaged() -> None:
    """A zTXt card whose stream ends early is damaged, not a bomb."""
    packed = zlib.compress(samples.b64json(TOM).encode())[:-8]
    message = refusal(samples.tiny_png(bombs.ztxt_chunk("chara", packed)))
    assert message.startswith("The PNG's chara chunk is damaged")


def test_a_charx_card_json_that_unpacks_too_far_is_refused() -> None:
    """card.json deflated from 100 MB: refused after reading 5 MB of it."""
    archive = bombs.charx_bomb(TOM)
    with peak_memory() as peak:
        message = refusal(archive)
    assert message.startswith("The CHARX file's card.json unpacks to more than 5 MB")
    assert peak[0] < 15 * MIB


@pytest.mark.parametrize("claimed", [None, 1])
def test_a_charx_of_countless_files_is_refused_before_its_directory_is_read(
    claimed: int | None,
) -> None:
    """50,000 empty members: refused from the end record, whatever count it claims."""
    archive = bombs.crowded_charx(TOM, members=50_000, claimed=claimed)
    with peak_memory() as peak:
        message = refusal(archive)
    assert message.startswith("The CHARX file holds more than 2,000 files")
    assert peak[0] < 2 * MIB


def test_a_charx_of_a_few_hundred_files_is_read() -> None:
    """A card with many assets is no bomb."""
    archive = bombs.crowded_charx(TOM, members=500)
    assert read_card(archive).card.name == "Old Tom"


def in_png(raw: bytes) -> bytes:
    return samples.tiny_png(samples.text_chunk("chara", base64.b64encode(raw).decode("ascii")))


@pytest.mark.parametrize("wrap", [bytes, in_png], ids=["json file", "png"])
def test_json_of_countless_tiny_values_is_refused(wrap: Callable[[bytes], bytes]) -> None:
    """Four MB of `[]` would be 1.4 million objects: refused before parsing, file or PNG."""
    data = wrap(bombs.values_bomb(dict(TOM)))
    with peak_memory() as peak:
        message = refusal(data)
    assert message.startswith(f"The card's JSON holds more than {MAX_CARD_JSON_VALUES:,} values")
    assert peak[0] < 20 * MIB


def test_prose_full_of_commas_is_not_taken_for_values() -> None:
    """Commas and brackets inside text are not values: a long, listy description is read."""
    description = 'tall, dark, "kind", [shy], {odd}, \\ ' * 60_000
    raw = json.dumps({"name": "Listy", "description": description}).encode()
    assert raw.count(b",") > MAX_CARD_JSON_VALUES
    assert read_card(raw).card.description == description


def test_a_large_card_reads_as_it_would_small() -> None:
    """Past 256 KB the JSON is parsed in Python, not C: the card comes out the same."""
    raw = json.dumps(bombs.lorebook_card("Harbour", entries=1_000)).encode()
    assert len(raw) > 256 * 1024
    inner = read_card(raw).card.data["data"]
    assert isinstance(inner, dict)
    assert inner["character_book"] == json.loads(raw)["data"]["character_book"]


@pytest.mark.parametrize(
    ("tail", "words"),
    [
        (b', "x": }', "JSON is broken: Expecting value at line 1"),
        (b', "x": NaN}', "NaN is not a JSON value"),
        (b', "x": ' + b"[" * 100_000, "nested too deeply"),
    ],
)
def test_a_large_broken_card_says_what_is_wrong(tail: bytes, words: str) -> None:
    """The Python parser's refusals read like the C parser's."""
    padding = b'"' + b"p" * (300 * 1024) + b'"'
    raw = b'{"name": "Big", "description": ' + padding + tail
    assert words in refusal(raw)
