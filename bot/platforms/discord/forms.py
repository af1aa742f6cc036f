"""The private form (a modal) that takes a secret: an API key, auth headers.

A slash command's options stay in the user's command history and are shown to them
again; a modal's fields are not. The form's answer goes only to the service, which
stores it encrypted and never echoes it; nothing here logs it.

The command waiting for its form is kept in the shared state (the database), without its
secrets, under a token in the form's custom_id; the answer is read from the interaction
by whichever process Discord hands it to (a restarted one too), not by the Modal object
that showed it, and the command is taken once.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping

import discord

from bot.core.commands import OptionSpec, find_command
from bot.core.shared_state import SharedState, owner_of
from bot.platforms.discord.tree import SlashCall

MAX_FIELD_CHARS = 4000
"""Discord's limit for one text input."""
TITLE_CHARS = 45
FORM_SECONDS = 10 * 60
"""How long a form waits for its answer."""
FORM_PREFIX = "parlor-form:"
KIND = "discord_secret_form"
_ROW, _TEXT_INPUT, _LABEL = 1, 4, 18
"""Discord's component types: an action row, a text input, a label around one input."""


class SecretForm(discord.ui.Modal):
    """Shows the fields of a command's secret options. Its own on_submit does nothing: the
    answer is taken from the interaction (`PendingForms.take`, `answers_of`)."""

    def __init__(self, call: SlashCall, token: str) -> None:
        super().__init__(
            title=f"/{call.spec.name}: private"[:TITLE_CHARS],
            timeout=FORM_SECONDS,
            custom_id=FORM_PREFIX + token,
        )
        for option in call.secret_forms:
            self.add_item(_field(option))


class PendingForms:
    """The commands whose form is open, by token, for every process."""

    def __init__(self, state: SharedState) -> None:
        self._state = state

    async def open(self, call: SlashCall, user_id: int) -> str:
        """Keep `call` (no command with a secret option takes a file; its secrets are not
        typed yet) until its form is answered; returns the form's token."""
        token = secrets.token_urlsafe(12)
        value = json.dumps(
            {
                "user_id": user_id,
                "command": call.spec.name,
                "options": call.options,
                "secrets": [option.name for option in call.secret_forms],
            }
        )
        owner = owner_of("discord", str(user_id))
        await self._state.put(KIND, token, value, ttl=FORM_SECONDS, owner=owner)
        return token

    async def take(self, custom_id: str, user_id: int) -> SlashCall | None:
        """The command of the form `custom_id`, once, for the user it was shown to; None
        when it is unknown, answered already, expired, or someone else's."""
        token = custom_id.removeprefix(FORM_PREFIX)
        if _user_of(await self._state.get(KIND, token)) != user_id:
            return None
        return _call_of(await self._state.take(KIND, token))

    async def forget(self, platform: str, user_id: str) -> int:
        """/forget target:me: their open forms go too. Not counted, as no key link is."""
        if platform == "discord":
            await self._state.delete_owned(KIND, owner_of(platform, user_id))
        return 0


def is_form(interaction: discord.Interaction) -> str | None:
    """The custom_id of one of our forms being answered, else None."""
    if interaction.type is not discord.InteractionType.modal_submit or not interaction.data:
        return None
    custom_id = interaction.data.get("custom_id")
    if isinstance(custom_id, str) and custom_id.startswith(FORM_PREFIX):
        return custom_id
    return None


def answers_of(data: Mapping[str, object]) -> dict[str, str]:
    """The text inputs' values by custom_id, in rows or in labels as Discord sends them."""
    found: dict[str, str] = {}
    top = data.get("components")
    for component in top if isinstance(top, list) else []:
        if not isinstance(component, dict):
            continue
        inner = component.get("components") if component.get("type") == _ROW else None
        if component.get("type") == _LABEL:
            inner = [component.get("component")]
        for item in inner if isinstance(inner, list) else []:
            if isinstance(item, dict) and item.get("type") == _TEXT_INPUT:
                custom_id, value = item.get("custom_id"), item.get("value")
                if isinstance(custom_id, str) and isinstance(value, str):
                    found[custom_id] = value.strip()
    return found


def _user_of(text: str | None) -> int | None:
    try:
        return int(json.loads(text)["user_id"]) if text is not None else None
    except (ValueError, KeyError, TypeError):
        return None


def _call_of(text: str | None) -> SlashCall | None:
    """None for nothing, or for what this version cannot read (as if expired)."""
    if text is None:
        return None
    try:
        data = json.loads(text)
        spec = find_command(str(data["command"]))
        wanted = {str(name) for name in data["secrets"]}
        options = {str(k): str(v) for k, v in dict(data["options"]).items()}
    except (ValueError, KeyError, TypeError):
        return None
    if spec is None:
        return None
    forms = tuple(option for option in spec.options if option.name in wanted)
    return SlashCall(spec, options, secret_forms=forms)


def _field(option: OptionSpec) -> discord.ui.TextInput[SecretForm]:
    label = option.name.replace("_", " ").capitalize()
    long = option.name != "api_key"  # headers are JSON: room for several lines
    return discord.ui.TextInput(
        label=label[:45],
        custom_id=option.name,
        placeholder=option.description[:100],
        style=discord.TextStyle.paragraph if long else discord.TextStyle.short,
        required=True,
        max_length=MAX_FIELD_CHARS,
    )
