"""Handlers of the connection, model, prompt and chat commands.

Every answer is a plain CommandResult; keys are only ever shown masked.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from bot.domain import ChannelChanges, ChannelState, CommandCall, CommandResult, Connection, Secret
from bot.errors import EndpointError, UsageError, user_message
from bot.ports import CompletionClient, Store

_log = logging.getLogger(__name__)

MAX_BASE_URL_CHARS = 2048
MAX_SYSTEM_PROMPT_CHARS = 20_000
MAX_MODELS_LISTED = 50
PROMPT_PREVIEW_CHARS = 200
BACK_TO_DEFAULT = "default"


def check_base_url(raw: str) -> str:
    """A base URL we are willing to store, or UsageError saying what is wrong with it.

    Credentials in the URL would be echoed by HTTP libraries' error texts, and a
    query string is where people paste keys, so both are refused.
    """
    url = raw.strip()
    if len(url) > MAX_BASE_URL_CHARS:
        raise UsageError(f"That base URL is longer than {MAX_BASE_URL_CHARS} characters.")
    try:
        parts = urlsplit(url)
        _ = parts.port  # reading it raises ValueError for a port that is not a number
    except ValueError:
        raise UsageError(
            "That base URL can't be read; it should look like http://host:8080/v1"
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(
            "The base URL must start with http:// or https:// and name a host, "
            "e.g. http://host:8080/v1"
        )
    if parts.username or parts.password:
        raise UsageError(
            "Put the key in api_key:, not in the URL; the URL must not contain user:password@."
        )
    if parts.query or parts.fragment:
        raise UsageError(
            "The base URL must not have a ?query or #fragment; put a key in api_key: instead."
        )
    return url.rstrip("/")


class SettingsCommands:
    """The commands that read or change a channel's stored settings."""

    def __init__(
        self, *, store: Store, client: CompletionClient, default: Connection | None
    ) -> None:
        self._store = store
        self._client = client
        self._default = default
        self._handlers: dict[str, Callable[[CommandCall], Awaitable[CommandResult]]] = {
            "connect": self._connect,
            "model": self._model,
            "models": self._models,
            "settings": self._show,
            "system": self._system,
            "reset": self._reset,
        }

    async def run(self, name: str, call: CommandCall) -> CommandResult:
        return await self._handlers[name](call)

    async def _connect(self, call: CommandCall) -> CommandResult:
        raw_url = call.options["base_url"].strip()
        if raw_url.lower() == BACK_TO_DEFAULT:
            await self._store.clear_connection(call.channel)
            await self._store.update_channel(call.channel, ChannelChanges(model=None))
            return CommandResult("This channel uses the operator's default endpoint again.")
        base_url = check_base_url(raw_url)
        raw_key = call.options.get("api_key", "").strip()
        key = Secret(raw_key) if raw_key else None
        before = await self._store.load_channel(call.channel)
        await self._store.save_connection(call.channel, base_url=base_url, api_key=key)
        model = call.options.get("model", "").strip() or None
        url_changed = before.connection is None or before.connection.base_url != base_url
        if model or url_changed:
            await self._store.update_channel(call.channel, ChannelChanges(model=model))
        _log.info(
            "connection set channel=%s host=%s key=%s",
            call.channel,
            urlsplit(base_url).hostname,
            "new" if key else "none",
        )
        after = await self._store.load_channel(call.channel)
        lines = [f"Connected this channel to {base_url}."]
        lines.append(_key_line(after.connection, operator=self._default))
        lines.append(
            f"Model: {after.model}"
            if after.model
            else "No model chosen yet: /models lists them, /model name:<id> picks one."
        )
        return CommandResult("\n".join(lines))

    async def _model(self, call: CommandCall) -> CommandResult:
        name = call.options.get("name", "").strip()
        if not name:
            state = await self._store.load_channel(call.channel)
            current = state.model or _connection_of(state, self._default).model
            return CommandResult(
                f"Model: {current}"
                if current
                else "No model chosen yet: /model name:<id> picks one."
            )
        await self._store.update_channel(call.channel, ChannelChanges(model=name))
        return CommandResult(f"This channel now talks to {name}.")

    async def _models(self, call: CommandCall) -> CommandResult:
        state = await self._store.load_channel(call.channel)
        connection = _connection_of(state, self._default)
        if not connection.base_url:
            raise UsageError("No endpoint is set up yet: /connect base_url:<url> first.")
        try:
            models = await self._client.models(connection)
        except EndpointError as exc:
            return CommandResult(
                f"Could not list the models. {user_message(exc)} "
                "You can still type a model id with /model name:<id>."
            )
        if not models:
            return CommandResult("The endpoint lists no models; type one with /model name:<id>.")
        shown = models[:MAX_MODELS_LISTED]
        more = f"\n…and {len(models) - len(shown)} more" if len(models) > len(shown) else ""
        listing = "\n".join(f"• {model}" for model in shown)
        return CommandResult(f"Models:\n{listing}{more}", choices=tuple(shown))

    async def _show(self, call: CommandCall) -> CommandResult:
        state = await self._store.load_channel(call.channel)
        if state.connection is not None:
            endpoint = f"{state.connection.base_url} (set in this channel)"
        elif self._default is not None:
            endpoint = "the operator's default endpoint"
        else:
            endpoint = "none (an admin can run /connect base_url:<url>)"
        model = state.model or _connection_of(state, self._default).model or "not chosen"
        prompt = state.system_prompt or "none"
        if len(prompt) > PROMPT_PREVIEW_CHARS:
            prompt = prompt[:PROMPT_PREVIEW_CHARS] + "…"
        return CommandResult(
            "\n".join(
                [
                    f"Endpoint: {endpoint}",
                    f"Model: {model}",
                    _key_line(state.connection, operator=self._default),
                    f"System prompt: {prompt}",
                ]
            )
        )

    async def _system(self, call: CommandCall) -> CommandResult:
        prompt = call.options.get("prompt", "").strip()
        if len(prompt) > MAX_SYSTEM_PROMPT_CHARS:
            raise UsageError(
                f"That prompt is {len(prompt)} characters; the limit is "
                f"{MAX_SYSTEM_PROMPT_CHARS}. Nothing was changed."
            )
        await self._store.update_channel(call.channel, ChannelChanges(system_prompt=prompt or None))
        return CommandResult("System prompt set." if prompt else "System prompt cleared.")

    async def _reset(self, call: CommandCall) -> CommandResult:
        await self._store.reset_chat(call.channel)
        return CommandResult(
            "Started a new conversation; the old one is archived.", ephemeral=False
        )


def _connection_of(state: ChannelState, default: Connection | None) -> Connection:
    return state.connection or default or Connection(base_url="")


def _key_line(connection: Connection | None, *, operator: Connection | None) -> str:
    if connection is None:
        has_key = operator is not None and operator.api_key is not None
        return "API key: the operator's" if has_key else "API key: none"
    if connection.api_key is None:
        return "API key: none"
    return f"API key: set ({connection.api_key.masked()})"
