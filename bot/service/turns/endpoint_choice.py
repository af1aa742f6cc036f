"""Which endpoint and model a channel talks to, and what we learn about endpoints over time.

The operator's key only ever travels with the operator's URL: a channel with its
own connection uses that connection's key or none.
"""

from __future__ import annotations

import logging

from bot.core.domain import ChannelKey, ChannelState, Connection
from bot.core.errors import BotError, UsageError
from bot.core.ports import Store
from bot.service.turns.extras import check_stored_extras
from bot.service.turns.models import ModelCatalog

_log = logging.getLogger(__name__)

NO_ENDPOINT = (
    "No model endpoint is set up for this channel yet. An admin can run "
    "/connect base_url:<url> (or preset:<name>), or the operator can set DEFAULT_BASE_URL."
)


class EndpointChoice:
    """Which endpoint and model each channel talks to, and what requests taught us about them.

    Shared by the turns and the commands, so both see what was learned.
    """

    def __init__(self, *, store: Store, catalog: ModelCatalog, default: Connection | None) -> None:
        self._store = store
        self._catalog = catalog
        self.default = default

    def connection_for(self, state: ChannelState) -> Connection | None:
        return state.connection or self.default

    def require_connection(self, state: ChannelState) -> Connection:
        """The connection every request of a turn, /test or /models goes out on."""
        connection = self.connection_for(state)
        if connection is None:
            raise UsageError(NO_ENDPOINT)
        check_stored_extras(connection.options)
        return connection

    def chosen_model(self, state: ChannelState) -> str | None:
        connection = self.connection_for(state)
        return state.model or (connection.model if connection else None)

    async def resolve(self, state: ChannelState) -> tuple[Connection, str]:
        """The connection and model for a turn; a one-model server needs no choice."""
        connection = self.require_connection(state)
        model = self.chosen_model(state)
        if model:
            return connection, model
        return connection, await self._only_model(connection)

    async def _only_model(self, connection: Connection) -> str:
        """Servers that load one model (llama.cpp, text-generation-webui) need no choice.

        The list is cached briefly, so this costs one request a minute at most; an
        endpoint that cannot list its models says why (a bad key, say).
        """
        models = await self._catalog.models(connection)
        if len(models) == 1:
            return models[0]
        offered = f" The endpoint offers: {', '.join(models[:10])}." if models else ""
        raise UsageError(
            f"No model is chosen for this channel. Pick one with /model name:<id>.{offered}"
        )

    async def learned(self, channel: ChannelKey, connection: Connection) -> None:
        """Keep what a request taught us about an endpoint (say, its max-tokens field).

        The operator's endpoint lives in memory only (its settings come from the
        environment); a chat-set one is stored on its connection row.
        """
        if connection.trusted:
            self.default = connection
            return
        try:
            await self._store.set_connection_options(channel, connection.options)
        except BotError:
            _log.warning("could not store what was learned about an endpoint")
