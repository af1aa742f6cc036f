"""The commands waiting for their secret form, and the form's answer as Discord sends it."""

from __future__ import annotations

from bot.core.commands import find_command
from bot.core.shared_state import MemorySharedState
from bot.platforms.discord.forms import FORM_PREFIX, PendingForms, answers_of
from bot.platforms.discord.tree import SlashCall

ADMIN = 930_000_000_000_000_077
OTHER = 930_000_000_000_000_078


def connect_call() -> SlashCall:
    spec = find_command("connect")
    assert spec is not None
    secret = tuple(option for option in spec.options if option.name == "api_key")
    return SlashCall(spec, {"base_url": "http://10.9.9.9/v1"}, secret_forms=secret)


async def test_a_form_is_taken_once_by_the_user_it_was_shown_to() -> None:
    """Someone else's answer neither gets the command nor uses it up."""
    forms = PendingForms(MemorySharedState())
    token = await forms.open(connect_call(), ADMIN)

    assert await forms.take(FORM_PREFIX + token, OTHER) is None
    assert await forms.take(FORM_PREFIX + token, ADMIN) == connect_call()
    assert await forms.take(FORM_PREFIX + token, ADMIN) is None


async def test_forget_drops_a_persons_open_forms() -> None:
    forms = PendingForms(MemorySharedState())
    token = await forms.open(connect_call(), ADMIN)

    assert await forms.forget("discord", str(ADMIN)) == 0  # not said as a key link
    assert await forms.take(FORM_PREFIX + token, ADMIN) is None


def test_answers_are_read_from_rows_and_from_labels() -> None:
    """Discord sends a modal's inputs in action rows, or in labels (components v2)."""
    rows = {
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "api_key", "value": " k1 "}]}
        ]
    }
    labels = {
        "components": [
            {"type": 18, "component": {"type": 4, "custom_id": "headers", "value": "{}"}}
        ]
    }

    assert answers_of(rows) == {"api_key": "k1"}
    assert answers_of(labels) == {"headers": "{}"}
    assert answers_of({"components": "nonsense"}) == {}
