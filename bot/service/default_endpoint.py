"""The start-up check of the operator's endpoint (`DEFAULT_BASE_URL`, `DEFAULT_MODEL`).

Without it, the first person to chat finds out that the URL lacks `/v1` or that the model
name has a typo. At start the URL is repaired and probed as `/connect` does for a chat's
own, and one log line says what was found. It never stops the bot: a model server that
is still loading, or down for a moment, comes up later, and chats can `/connect` their
own endpoints meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.core.domain import Connection
from bot.core.errors import UsageError
from bot.core.ports import CompletionClient
from bot.endpoints.urls import RepairedUrl, repair_base_url
from bot.service.turns.probing import ModelsProbe, probe_models

_log = logging.getLogger(__name__)

CHECK_SECONDS = 10.0
"""The most the check may delay the start; a server that has not answered by then is
reported as not answering and used as configured."""

_LISTED_NAMES = 5


@dataclass(frozen=True, slots=True)
class EndpointCheck:
    """The connection to use, and the one line that tells the operator what was found;
    `healthy` is False when the line is a warning (something to fix, or not answering)."""

    connection: Connection
    summary: str
    healthy: bool


async def check_default_endpoint(
    connection: Connection, client: CompletionClient, *, within: float = CHECK_SECONDS
) -> EndpointCheck:
    """Repair the URL, find where `/models` answers, and compare DEFAULT_MODEL with the list;
    logs the summary once (INFO when all is well, WARNING when not)."""
    check = await _check(connection, client, within=within)
    _log.log(logging.INFO if check.healthy else logging.WARNING, "%s", check.summary)
    return check


async def _check(
    connection: Connection, client: CompletionClient, *, within: float
) -> EndpointCheck:
    try:
        repaired = repair_base_url(connection.base_url)
    except UsageError:
        # What chats may not use (user:password@, a ?query) the operator may: their proxy's
        # login, a provider's api-version. Probed as written, nothing added to it.
        repaired = RepairedUrl(connection.base_url)
        as_written = True
    else:
        as_written = False
    try:
        async with asyncio.timeout(within):
            probe = await probe_models(
                client,
                repaired.url,
                key=connection.api_key,
                trusted=connection.trusted,
                add_v1=not as_written,
            )
    except TimeoutError:
        probe = ModelsProbe(
            repaired.url, answered=False, problem=f"no answer within {within:.0f} s."
        )
    used = dataclasses.replace(connection, base_url=probe.url)
    changes = list(repaired.changes)
    if probe.url != repaired.url:
        changes.append("added /v1, where the endpoint answered")
    head = f"DEFAULT_BASE_URL {_shown(connection.base_url)}"
    if changes:
        head += f" -> using {_shown(probe.url)} ({'; '.join(changes)})"
    if probe.needs_key:
        return EndpointCheck(
            used, f"{head}: the endpoint refused DEFAULT_API_KEY: {probe.problem}", False
        )
    if not probe.answered:
        return EndpointCheck(
            used,
            f"{head}: could not list its models ({probe.problem.rstrip('.')}); chats on the "
            "default endpoint will fail until it answers",
            False,
        )
    verdict, healthy = _model_verdict(connection.model, probe.models)
    return EndpointCheck(used, f"{head}: answers; {verdict}", healthy)


def _model_verdict(model: str | None, models: tuple[str, ...]) -> tuple[str, bool]:
    """What DEFAULT_MODEL meets in the endpoint's list, and whether that is fine."""
    listed = f"{len(models)} model{'s' if len(models) != 1 else ''}"
    if model:
        if not models or model in models:
            return (
                f"DEFAULT_MODEL {model} is {'listed' if models else 'used (no list given)'}",
                True,
            )
        close = difflib.get_close_matches(model, list(models), n=3, cutoff=0.4)
        hint = f"close: {', '.join(close)}" if close else f"it lists {_names(models)}"
        return f"DEFAULT_MODEL {model} is not among its {listed} ({hint})", False
    if len(models) == 1:
        return f"it offers one model, {models[0]}, used while DEFAULT_MODEL is empty", True
    if not models:
        return "it lists no models; set DEFAULT_MODEL to the one to ask for", False
    return (
        f"DEFAULT_MODEL is empty and it offers {listed} ({_names(models)}); chats must pick "
        "one with /model until DEFAULT_MODEL is set",
        False,
    )


def _names(models: tuple[str, ...]) -> str:
    more = len(models) - _LISTED_NAMES
    return ", ".join(models[:_LISTED_NAMES]) + (f" and {more} more" if more > 0 else "")


def _shown(url: str) -> str:
    """The URL without user:password@ or a query: what may appear in a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    port = f":{parts.port}" if _has_port(url) else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _has_port(url: str) -> bool:
    try:
        return urlsplit(url).port is not None
    except ValueError:
        return False
