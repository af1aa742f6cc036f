"""The endpoint's model list, cached briefly, and filtered for pickers and autocomplete.

A picker asks on every keystroke; the endpoint should be asked once a minute at most.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

from bot.core.domain import Connection
from bot.core.ports import Clock, CompletionClient

MODEL_CACHE_SECONDS = 60.0
MAX_SUGGESTIONS = 25


class ModelCatalog:
    """The model ids each endpoint lists, asked at most once a minute per endpoint and key."""

    def __init__(self, client: CompletionClient, *, clock: Clock) -> None:
        self._client = client
        self._clock = clock
        self._cache: dict[tuple[str, str | None], tuple[float, list[str]]] = {}

    async def models(self, connection: Connection) -> list[str]:
        """The endpoint's ids; EndpointError when it cannot say (the caller decides)."""
        # The key is part of the cache key: two keys may see different model lists.
        key = connection.api_key.reveal() if connection.api_key else None
        cache_key = (connection.base_url, key)
        now = self._clock.now()
        cached = self._cache.get(cache_key)
        if cached is not None and now - cached[0] < MODEL_CACHE_SECONDS:
            return cached[1]
        models = await self._client.models(connection)
        self._cache = {k: v for k, v in self._cache.items() if now - v[0] < MODEL_CACHE_SECONDS}
        self._cache[cache_key] = (now, models)
        return models

    async def suggest(
        self, connection: Connection, typed: str, *, limit: int = MAX_SUGGESTIONS
    ) -> list[str]:
        """Ids containing what was typed, those starting with it first; at most `limit`."""
        return best_matches(await self.models(connection), typed, limit=limit)


def best_matches(names: list[str], typed: str, *, limit: int = MAX_SUGGESTIONS) -> list[str]:
    """The names (model ids, profiles, characters, choices) containing what was typed, those
    starting with it first; at most `limit`."""
    wanted = typed.strip().lower()
    starts = [n for n in names if n.lower().startswith(wanted)]
    contains = [n for n in names if wanted in n.lower() and n not in starts]
    return (starts + contains)[: max(limit, 0)]


def unlisted_note(model: str, models: Sequence[str], *, used: bool = True) -> str:
    """The warning for a model id the endpoint does not list, naming the ids that look like it;
    `used` says it is kept all the same (a typed id always is)."""
    close = difflib.get_close_matches(model, list(models), n=3, cutoff=0.4)
    hint = f" Close matches: {', '.join(close)}." if close else " /models lists the ones it has."
    anyway = "; it is used anyway" if used else ""
    return f"The endpoint does not list {model!r}{anyway}.{hint}"
