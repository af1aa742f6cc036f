"""Suggestions for an option as the user types it: models, presets, profiles, characters.

Adapters call this for autocomplete (Discord) or pickers (Telegram); an endpoint
that cannot answer gives no suggestions rather than an error, since a typed
value is always accepted.
"""

from __future__ import annotations

import logging

from bot.core.commands import find_command
from bot.core.domain import CommandCall, Connection
from bot.core.errors import BotError
from bot.core.ports import Characters, Profiles, Store
from bot.endpoints.presets import find_preset, suggest_presets
from bot.endpoints.urls import repair_base_url
from bot.service.commands.connection import BACK_TO_DEFAULT
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.models import MAX_SUGGESTIONS, ModelCatalog, best_matches

_log = logging.getLogger(__name__)


class Suggestions:
    """Values to offer while an option is typed; never an error, a typed value still counts."""

    def __init__(
        self,
        *,
        store: Store,
        profiles: Profiles,
        endpoints: EndpointChoice,
        catalog: ModelCatalog,
        characters: Characters,
    ) -> None:
        self._store = store
        self._profiles = profiles
        self._characters = characters
        self._endpoints = endpoints
        self._catalog = catalog

    async def for_option(self, call: CommandCall, option: str, typed: str) -> list[str]:
        """At most 25 values for `option` of the call's command, best matches first."""
        spec = find_command(call.name)
        wanted = spec.option(option) if spec else None
        if wanted is None:
            return []
        if wanted.choices:
            return best_matches(list(wanted.choices), typed)
        sources = {
            "presets": self._presets,
            "profiles": self._profile_names,
            "models": self._models,
            "characters": self._character_names,
        }
        lookup = sources.get(wanted.autocomplete or "")
        if lookup is None:
            return []
        try:
            return await lookup(call, typed)
        except BotError:
            _log.debug("no suggestions for %s.%s", call.name, option)
            return []

    async def model_ids(self, call: CommandCall) -> list[str]:
        """Every model the channel's endpoint offers, for a picker that pages through them;
        none when the endpoint cannot say."""
        try:
            state = await self._store.load_channel(call.channel)
            connection = self._endpoints.connection_for(state)
            return await self._catalog.models(connection) if connection else []
        except BotError:
            _log.debug("no model list for %s", call.channel)
            return []

    async def _presets(self, _call: CommandCall, typed: str) -> list[str]:
        return [p.name for p in suggest_presets(typed, limit=MAX_SUGGESTIONS)]

    async def _profile_names(self, call: CommandCall, typed: str) -> list[str]:
        names = [p.name for p in await self._profiles.list_profiles(call.profile_scope)]
        return best_matches(names, typed)

    async def _character_names(self, call: CommandCall, typed: str) -> list[str]:
        names = [c.name for c in await self._characters.list_characters(call.profile_scope)]
        return best_matches(names, typed)

    async def _models(self, call: CommandCall, typed: str) -> list[str]:
        state = await self._store.load_channel(call.channel)
        current = self._endpoints.connection_for(state)
        named = _endpoint_being_set(call)
        if named is not None and (current is None or current.base_url != named.base_url):
            current = named  # the same URL keeps the channel's connection, key and all
        return await self._catalog.suggest(current, typed) if current else []


def _endpoint_being_set(call: CommandCall) -> Connection | None:
    """The endpoint a /connect or /profile save names in the options typed so far, so its
    model list is offered before it is saved; only to someone who may run the command (a
    member cannot make the bot probe addresses), and through the endpoint guard, as any
    chat-set endpoint. None when no such endpoint is named."""
    spec = find_command(call.name)
    if spec is None or call.actor.permission < spec.permission:
        return None
    if call.name == "profile" and call.options.get("action") != "save":
        return None
    preset = find_preset(call.options.get("preset", ""))
    raw = call.options.get("base_url", "").strip() or (preset.base_url if preset else "")
    if not raw or raw.lower() == BACK_TO_DEFAULT:
        return None
    return Connection(base_url=repair_base_url(raw).url, model=None, api_key=None)
