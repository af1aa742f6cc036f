"""/character import under attack: each bomb refused in one line, and nothing stored changes.

That the event loop keeps serving while a card is read is tested with the reader itself
(tests/characters/test_reader.py); storing the card is the store's business.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.characters.errors import MAX_CARD_FILE_BYTES
from bot.characters.export import to_document
from bot.core.domain import Attachment
from tests.characters import bombs
from tests.service.conftest import Harness
from tests.service.turns.test_prompt_assembly import ALICE, alice_with, card_command, png_file

IMPOSTOR = to_document(alice_with(personality="an impostor"), version=2)


def oversized() -> bytes:
    """A real card with an image that takes the file past the limit."""
    return bombs.big_legal_png(IMPOSTOR, image_bytes=MAX_CARD_FILE_BYTES + 1024)


BOMBS: dict[str, tuple[Callable[[], bytes], str]] = {
    "chunk bomb": (
        lambda: bombs.chunk_bomb(IMPOSTOR, chunks=300_000),
        "The PNG holds more than 20,000 chunks",
    ),
    "zTXt bomb": (lambda: bombs.text_bomb("zTXt"), "chara chunk unpacks to more than 10 MB"),
    "iTXt bomb": (
        lambda: bombs.text_bomb("iTXt", keyword="ccv3"),
        "ccv3 chunk unpacks to more than 10 MB",
    ),
    "charx zip bomb": (
        lambda: bombs.charx_bomb(IMPOSTOR),
        "The CHARX file's card.json unpacks to more than 5 MB",
    ),
    "charx of countless files": (
        lambda: bombs.crowded_charx(IMPOSTOR, members=50_000),
        "The CHARX file holds more than 2,000 files",
    ),
    "json of countless values": (
        lambda: bombs.values_bomb(IMPOSTOR),
        "The card's JSON holds more than 250,000 values",
    ),
    "oversized file": (oversized, "The card file is too large (20.2 MB; the limit is 20 MB)."),
}


@pytest.mark.parametrize("name", list(BOMBS))
async def test_a_bomb_is_refused_in_one_line_and_the_library_stays(
    harness: Harness, name: str
) -> None:
    """The answer is one line naming the limit; the Alice already imported is untouched."""
    build, words = BOMBS[name]
    await card_command(harness, "import", files=(png_file(ALICE),))
    answer = await card_command(harness, "import", files=(Attachment("alice.png", "", build()),))
    assert words in answer.text
    assert "\n" not in answer.text
    assert (await card_command(harness, "list")).text == "Characters:\n• Alice"
    shown = await card_command(harness, "show", name="Alice")
    assert f"Personality: {ALICE.personality}" in shown.text
