"""Names that came from outside, as the commands show them: no escapes, controls or overrides."""

from __future__ import annotations

import pytest

from tests.core.test_untrusted import HOSTILE, is_safe
from tests.service.conftest import Harness
from tests.service.turns.test_prompt_assembly import alice_with, card_command, png_file


@pytest.mark.parametrize("hostile", [*HOSTILE[:6], "\u202e", "\x07\x00"])
async def test_a_hostile_card_name_is_shown_clean_everywhere(
    harness: Harness, hostile: str
) -> None:
    """Import, /character list and /settings show the card's name without its controls."""
    card = alice_with(name=f"Al{hostile}ice")
    imported = await card_command(harness, "import", files=(png_file(card, "alice.png"),))
    assert is_safe(imported.text.replace("\n", ""))
    name = imported.text.split(":")[0].removeprefix("Imported ")
    await card_command(harness, "use", name=name)
    listed = (await card_command(harness, "list")).text
    settings = (await harness.command("settings")).text
    for text in (listed, settings):
        assert is_safe(text.replace("\n", ""))
        assert name in text


@pytest.mark.parametrize("hostile", ["\u202e", "\x1b[31m", "\x1b]0;t\x07", "\x9b2J", "\x00"])
async def test_a_persona_name_is_kept_without_controls(harness: Harness, hostile: str) -> None:
    """A persona name typed with escapes or an override is stored and shown without them."""
    answer = await harness.command("persona", name=f"Bo{hostile}b")
    assert answer.text == "In stories here you are now Bob."
    assert (await harness.command("persona")).text == "You are Bob"
