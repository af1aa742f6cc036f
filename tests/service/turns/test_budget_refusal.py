"""A prompt too big for the context is refused naming only what this channel really has."""

from __future__ import annotations

import pytest

from bot.core.domain import MessageStatus
from tests.service.conftest import Harness
from tests.service.turns.test_prompt_assembly import alice_with, bring

PARTS = ("system prompt", "persona", "character")


async def refusal(harness: Harness, message: str) -> str:
    """The words a turn that cannot fit ends with; nothing was sent."""
    await harness.command("params", context_size="300", max_tokens="50")
    outcome = await harness.say(message)
    assert outcome.status is MessageStatus.ERROR
    assert outcome.error_text is not None
    assert harness.client.requests == []
    return outcome.error_text


def names_only(text: str, *present: str) -> None:
    for part in PARTS:
        assert (part in text) == (part in present), (part, text)


async def test_a_bare_channel_names_only_the_message(harness: Harness) -> None:
    """No system prompt, character or persona: the refusal speaks of the message alone."""
    text = await refusal(harness, "z" * 2000)
    assert text.startswith("The message needs")
    assert "Shorten the message, or make room with /params context_size" in text
    names_only(text)


async def test_a_system_prompt_alone_is_named_alone(harness: Harness) -> None:
    """With /system set and no character, the character is not mentioned."""
    await harness.command("system", prompt="Be terse.")
    text = await refusal(harness, "z" * 2000)
    assert "beside the system prompt" in text
    assert "Shorten the message or the system prompt" in text
    names_only(text, "system prompt")


async def test_a_long_system_prompt_is_what_needs_the_tokens(harness: Harness) -> None:
    """A system prompt over the budget is named as the one thing that needs them."""
    await harness.command("system", prompt="word " * 400)
    text = await refusal(harness, "hi")
    assert text.startswith("The system prompt needs")
    names_only(text, "system prompt")


async def test_a_character_without_a_system_prompt_is_named_alone(harness: Harness) -> None:
    """A card and no /system: "the character", never "the system prompt"."""
    await bring(harness, alice_with(description="w" * 3000))
    text = await refusal(harness, "hi")
    assert text.startswith("The character needs")
    names_only(text, "character")


async def test_every_part_there_is_named(harness: Harness) -> None:
    """System prompt, persona and character together are all named, in prompt order."""
    await harness.command("system", prompt="Be terse.")
    await harness.command("persona", name="Bob", description="A sailor. " * 20)
    await bring(harness, alice_with(description="w" * 3000))
    text = await refusal(harness, "hi")
    assert text.startswith("The system prompt, your persona and the character need")
    names_only(text, *PARTS)


@pytest.mark.parametrize("card_prompt", ["You are {{char}}.", ""])
async def test_a_card_prompt_replacing_the_channels_is_the_characters(
    harness: Harness, card_prompt: str
) -> None:
    """A card's own system prompt replaces the channel's: only the character is named then."""
    await harness.command("system", prompt="Be terse.")
    await bring(harness, alice_with(description="w" * 3000, system_prompt=card_prompt))
    text = await refusal(harness, "hi")
    if card_prompt:
        names_only(text, "character")
    else:
        names_only(text, "system prompt", "character")
