"""Suggestions as the user types: models (cached), presets, profiles and fixed choices."""

from __future__ import annotations

from bot.core.domain import Actor, CommandCall, Permission
from bot.core.errors import EndpointUnreachable
from tests.service.conftest import CHANNEL, Harness


def typing_in(command: str) -> CommandCall:
    return CommandCall(command, {}, CHANNEL, Actor("ann", "Ann", Permission.OPERATOR))


async def test_models_are_filtered_prefix_first_and_capped(harness: Harness) -> None:
    """Ids starting with what was typed come first; at most 25; the list is fetched once."""
    harness.client.models_list = [f"llama-{n}" for n in range(40)] + ["tiny-llama", "qwen"]
    suggest = harness.service.suggestions.for_option
    first = await suggest(typing_in("model"), "name", "llama")
    assert len(first) == 25
    assert first[0] == "llama-0"
    assert "qwen" not in first
    assert await suggest(typing_in("model"), "name", "tiny") == ["tiny-llama"]
    assert len(harness.client.models_asked) == 1


async def test_unreachable_endpoint_suggests_nothing(harness: Harness) -> None:
    """A failing /models gives no suggestions instead of an error: typed ids still work."""
    harness.client.models_at = {
        "http://operator.example/v1": EndpointUnreachable("could not reach it")
    }
    assert await harness.service.suggestions.for_option(typing_in("model"), "name", "x") == []


async def test_presets_and_choices_are_suggested(harness: Harness) -> None:
    """Preset names match what was typed; options with fixed choices offer them."""
    suggest = harness.service.suggestions.for_option
    assert "ollama" in await suggest(typing_in("connect"), "preset", "oll")
    assert await suggest(typing_in("reasoning"), "mode", "s") == ["spoiler"]


async def test_profiles_are_suggested(harness: Harness) -> None:
    """Saved profile names are offered for /profile name:."""
    await harness.command("profile", action="save", name="home", base_url="http://h.example/v1")
    assert await harness.service.suggestions.for_option(typing_in("profile"), "name", "ho") == [
        "home"
    ]


async def test_connect_offers_the_models_of_the_url_being_typed(harness: Harness) -> None:
    """/connect base_url:… model:… lists that endpoint's models before it is saved, to
    someone who may connect; a member typing the same gets the current endpoint's, and the
    bot never asks the typed address for them."""
    harness.client.models_at = {
        "http://new.example:8080/v1": ["new-model-a", "new-model-b"],
        "http://operator.example/v1": ["operator-model"],
    }
    admin = Actor("ann", "Ann", Permission.SERVER_ADMIN)
    typed = {"base_url": " http://new.example:8080/v1/ "}  # repaired as /connect would
    connecting = CommandCall("connect", typed, CHANNEL, admin)
    suggest = harness.service.suggestions.for_option
    assert await suggest(connecting, "model", "new") == ["new-model-a", "new-model-b"]
    member = CommandCall("connect", typed, CHANNEL, Actor("bob", "Bob", Permission.EVERYONE))
    assert await suggest(member, "model", "") == ["operator-model"]
    asked = [c.base_url for c in harness.client.models_asked]
    assert asked == ["http://new.example:8080/v1", "http://operator.example/v1"]
    assert not harness.client.models_asked[0].trusted, "guarded like any URL typed in a chat"
    garbage = CommandCall("connect", {"base_url": "::::"}, CHANNEL, admin)
    assert await suggest(garbage, "model", "") == []
