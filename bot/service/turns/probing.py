"""Where an endpoint's `/models` answers: the base URL as given, or with `/v1` added.

People paste `http://host:8080` for servers that serve `http://host:8080/v1`; asking
`/models` at both is how `/connect` and the start-up check of `DEFAULT_BASE_URL` find
the URL that works, without guessing from the server's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.domain import Connection, Secret
from bot.core.errors import EndpointError, EndpointNotAllowed, EndpointRejected, user_message
from bot.core.ports import CompletionClient
from bot.endpoints.urls import probe_candidates


@dataclass(frozen=True, slots=True)
class ModelsProbe:
    """Where to send requests, what `/models` listed there, and why the list may be missing.

    `answered` is False when no candidate listed models (down, refused, no `/models`);
    `problem` then says why, in words a person can act on.
    """

    url: str
    models: tuple[str, ...] = ()
    answered: bool = True
    problem: str = ""
    needs_key: bool = False  # 401/403: the endpoint is there and wants a (different) key


async def probe_models(
    client: CompletionClient,
    url: str,
    *,
    key: Secret | None,
    trusted: bool = False,
    add_v1: bool = True,
) -> ModelsProbe:
    """Ask `/models` at each candidate URL, first answer wins.

    A refusal by the endpoint guard propagates (the URL can never work); a 401/403 ends
    the search at that URL (the endpoint is there, it wants a key); any other failure
    moves on, and when none answered, the URL as given is kept with the first failure's
    reason, since some servers have no `/models` at all. `add_v1=False` asks at `url` only.
    """
    first_error: EndpointError | None = None
    for candidate in probe_candidates(url) if add_v1 else (url,):
        connection = Connection(candidate, api_key=key, trusted=trusted)
        try:
            models = await client.models(connection)
        except EndpointNotAllowed:
            raise
        except EndpointRejected as exc:
            if exc.status_code in (401, 403):
                return ModelsProbe(
                    candidate, answered=False, problem=user_message(exc), needs_key=True
                )
            first_error = first_error or exc
        except EndpointError as exc:
            first_error = first_error or exc
        else:
            return ModelsProbe(candidate, models=tuple(models))
    problem = user_message(first_error) if first_error else ""
    return ModelsProbe(url, answered=False, problem=problem)
