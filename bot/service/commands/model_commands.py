"""Handlers of /model and /models: choosing a model and listing what the endpoint offers.

A typed model id is always accepted (some endpoints serve models they do not list), but
checked against the list, so that a typo is caught before the first turn fails.
Knows the ports only.
"""

from __future__ import annotations

import logging

from bot.core.domain import ChannelChanges, ChannelState, CommandCall, CommandResult
from bot.core.errors import EndpointError, EndpointNotAllowed, user_message
from bot.core.ports import Store
from bot.service.commands.registry import answers
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.models import ModelCatalog, best_matches, unlisted_note

_log = logging.getLogger(__name__)

MAX_MODELS_LISTED = 50


class ModelCommands:
    """/model and /models: the channel's model, and the ones its endpoint lists."""

    def __init__(self, *, store: Store, endpoints: EndpointChoice, catalog: ModelCatalog) -> None:
        self._store = store
        self._endpoints = endpoints
        self._catalog = catalog

    @answers("model")
    async def _model(self, call: CommandCall) -> CommandResult:
        name = call.options.get("name", "").strip()
        state = await self._store.load_channel(call.channel)
        if not name:
            current = self._endpoints.chosen_model(state)
            return CommandResult(
                f"Model: {current}" if current else "No model chosen yet: /model name:<id>."
            )
        await self._store.update_channel(call.channel, ChannelChanges(model=name))
        return CommandResult(f"This channel now talks to {name}.{await self._checked(state, name)}")

    async def _checked(self, state: ChannelState, name: str) -> str:
        """A warning when the endpoint's list lacks `name`; a note when it cannot be read."""
        connection = self._endpoints.connection_for(state)
        if connection is None:
            return ""
        try:
            models = await self._catalog.models(connection)
        except (EndpointError, EndpointNotAllowed) as exc:
            _log.info("model list unavailable while checking a typed model: %s", exc)
            return " (I couldn't check it against the endpoint's model list.)"
        if not models:
            return ""
        return f"\n{unlisted_note(name, models)}" if name not in models else ""

    @answers("models")
    async def _models(self, call: CommandCall) -> CommandResult:
        state = await self._store.load_channel(call.channel)
        connection = self._endpoints.require_connection(state)
        try:
            models = await self._catalog.models(connection)
        except EndpointError as exc:
            return CommandResult(
                f"Could not list the models. {user_message(exc)} "
                "You can still type a model id with /model name:<id>."
            )
        typed = call.options.get("filter", "")
        shown = best_matches(models, typed, limit=MAX_MODELS_LISTED) if typed else models
        if not shown:
            what = f"no models matching {typed!r}" if typed else "no models"
            return CommandResult(f"The endpoint lists {what}; type one with /model name:<id>.")
        listed = shown[:MAX_MODELS_LISTED]
        more = f"\n…and {len(shown) - len(listed)} more" if len(shown) > len(listed) else ""
        listing = "\n".join(f"• {model}" for model in listed)
        return CommandResult(f"Models:\n{listing}{more}", choices=tuple(listed))
