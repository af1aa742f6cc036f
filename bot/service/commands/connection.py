"""Handlers of the commands that set up the endpoint: /connect and /extras (/model, /models
and /test are model_commands.py's and endpoint_test.py's).

/connect repairs what people paste, asks the endpoint guard, and probes for a missing /v1.
Knows the ports only.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from urllib.parse import urlsplit

from bot.core.commands import parse_boolean
from bot.core.domain import ChannelChanges, CommandCall, CommandResult, Connection, Secret
from bot.core.errors import (
    StorageError,
    UsageError,
)
from bot.core.ports import CompletionClient, EndpointGuard, Store
from bot.endpoints.presets import (
    KeyNeed,
    Preset,
    find_preset,
    normalize,
    preset_names,
    suggest_presets,
)
from bot.endpoints.urls import RepairedUrl, repair_base_url
from bot.service.commands.registry import answers
from bot.service.commands.settings import extras_line, key_line
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.extras import apply_extras
from bot.service.turns.models import unlisted_note
from bot.service.turns.probing import probe_models

_log = logging.getLogger(__name__)

BACK_TO_DEFAULT = "default"


@dataclasses.dataclass(frozen=True, slots=True)
class _Probe:
    url: str
    models: tuple[str, ...] = ()
    note: str = ""


class ConnectionCommands:
    """/connect and /extras: where a channel's requests go, and what they carry."""

    def __init__(
        self,
        *,
        store: Store,
        client: CompletionClient,
        endpoints: EndpointChoice,
        guard: EndpointGuard | None = None,
    ) -> None:
        """`guard` judges a URL stored without a probe; None where no guard applies (tests)."""
        self._store = store
        self._client = client
        self._endpoints = endpoints
        self._guard = guard

    @answers("connect")
    async def _connect(self, call: CommandCall) -> CommandResult:
        preset = _preset(call.options.get("preset", ""))
        raw_url = call.options.get("base_url", "").strip() or (preset.base_url if preset else "")
        if not raw_url:
            raise UsageError(
                "Give base_url:<url> or preset:<name>."
                if preset is None
                else f"{preset.title} has no OpenAI-compatible endpoint. {preset.note}"
            )
        if raw_url.lower() == BACK_TO_DEFAULT:
            await self._store.clear_connection(call.channel)
            await self._store.update_channel(call.channel, ChannelChanges(model=None))
            return CommandResult("This channel uses the operator's default endpoint again.")
        repaired = repair_base_url(raw_url)
        await self._admit(repaired.url)
        raw_key = call.options.get("api_key", "").strip()
        key = Secret(raw_key) if raw_key else None
        old = await self._readable_connection(call)
        bypass = parse_boolean("bypass_check", call.options.get("bypass_check", "false")) or (
            preset is not None and not preset.models_listing
        )
        probe_key = key or (old.api_key if old and old.base_url == repaired.url else None)
        probe = await self._probe(repaired, probe_key, bypass=bypass)
        await self._store.save_connection(call.channel, base_url=probe.url, api_key=key)
        saved = (await self._store.load_channel(call.channel)).connection
        if saved is not None and saved.options.bypass_models_check != bypass:
            options = dataclasses.replace(saved.options, bypass_models_check=bypass)
            await self._store.set_connection_options(call.channel, options)
        model = call.options.get("model", "").strip() or None
        if model or old is None or old.base_url != probe.url:
            await self._store.update_channel(call.channel, ChannelChanges(model=model))
        _log.info(
            "connection set channel=%s host=%s key=%s",
            call.channel,
            urlsplit(probe.url).hostname,
            "new" if key else "none",
        )
        after = await self._store.load_channel(call.channel)
        return CommandResult(
            _connected_text(
                repaired,
                probe,
                preset=preset,
                connection=after.connection,
                model=after.model,
                kept=model is None and after.model is not None,
                endpoints=self._endpoints,
            )
        )

    async def _admit(self, url: str) -> None:
        """The endpoint guard's verdict, asked whether or not the /models probe runs: with
        bypass_check nothing else would meet the guard before the URL is stored."""
        if self._guard is None:
            return
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        await self._guard.check(parts.hostname or "", port)

    async def _readable_connection(self, call: CommandCall) -> Connection | None:
        """The channel's connection; None when its stored key cannot be read any more,
        so that /connect with a new key can still repair the channel.
        """
        try:
            return (await self._store.load_channel(call.channel)).connection
        except StorageError:
            _log.warning("channel %s has a stored key that cannot be read", call.channel)
            return None

    async def _probe(self, repaired: RepairedUrl, key: Secret | None, *, bypass: bool) -> _Probe:
        """Find where /models answers (the URL as given, then with /v1 added); a refusal
        by the endpoint guard ends it, any other failure only warns."""
        if bypass:
            return _Probe(repaired.url, note="Skipped the /models check, as asked.")
        found = await probe_models(self._client, repaired.url, key=key)
        if found.needs_key:
            return _Probe(found.url, note=f"/models: {found.problem}")
        if not found.answered:
            return _Probe(
                found.url,
                note=f"Couldn't list models there ({found.problem}) Saved anyway; /test sends "
                "a real message to check.",
            )
        return _Probe(found.url, models=found.models)

    @answers("extras")
    async def _extras(self, call: CommandCall) -> CommandResult:
        state = await self._store.load_channel(call.channel)
        if state.connection is None:
            raise UsageError("Extras belong to a channel's own connection: /connect first.")
        if not call.options:
            return CommandResult(extras_line(state.connection))
        options = apply_extras(state.connection.options, call.options)
        await self._store.set_connection_options(call.channel, options)
        return CommandResult(extras_line(dataclasses.replace(state.connection, options=options)))


def _preset(name: str) -> Preset | None:
    if not name.strip():
        return None
    preset = find_preset(name)
    if preset is None:
        named = [p.name for p in suggest_presets(name, limit=5)]
        typos = difflib.get_close_matches(normalize(name), preset_names(), n=5, cutoff=0.6)
        close = ", ".join(dict.fromkeys(named + typos)) or "none close"
        raise UsageError(f"There is no preset {name!r}. Close ones: {close}.")
    return preset


def _connected_text(
    repaired: RepairedUrl,
    probe: _Probe,
    *,
    preset: Preset | None,
    connection: Connection | None,
    model: str | None,
    kept: bool,
    endpoints: EndpointChoice,
) -> str:
    changes = list(repaired.changes)
    if probe.url != repaired.url:
        changes.append("added /v1, where the endpoint answered")
    lines = [f"Connected this channel to {probe.url}."]
    if changes:
        lines.append(f"Using {probe.url}: I {'; '.join(changes)}.")
    lines.append(key_line(connection, operator=endpoints.default))
    keyless = connection is not None and connection.api_key is None
    if preset is not None and preset.key is KeyNeed.REQUIRED and keyless:
        lines.append(f"{preset.title} needs an API key: add api_key:<key>.")
    if preset is not None and preset.note:
        lines.append(preset.note)
    if probe.note:
        lines.append(probe.note)
    if model:
        lines.append(f"Model: {model} (kept from before)" if kept else f"Model: {model}")
        if probe.models and model not in probe.models:
            lines.append(unlisted_note(model, probe.models))
    elif len(probe.models) == 1:
        lines.append(f"Model: {probe.models[0]} (the only one it offers)")
    else:
        lines.append("No model chosen yet: /models lists them, /model name:<id> picks one.")
    return "\n".join(lines)
