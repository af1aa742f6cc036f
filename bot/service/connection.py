"""Handlers of the commands that talk to the endpoint: /connect, /models, /test, /extras.

/connect repairs what people paste and probes for a missing /v1; /test names the
cause and the fix of a failure. Knows the ports only.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from urllib.parse import urlsplit

from bot.commands import parse_boolean
from bot.domain import (
    ChannelChanges,
    ChannelState,
    ChatMessage,
    CommandCall,
    CommandResult,
    Connection,
    Role,
    Secret,
)
from bot.endpoints import RepairedUrl, probe_candidates, repair_base_url
from bot.errors import (
    EndpointError,
    EndpointNotAllowed,
    EndpointRejected,
    StorageError,
    UsageError,
    user_message,
)
from bot.ports import Clock, CompletionClient, Store
from bot.presets import KeyNeed, Preset, find_preset, normalize, preset_names, suggest_presets
from bot.service.extras import apply_extras
from bot.service.handlers import Handlers
from bot.service.models import ModelCatalog, filter_models
from bot.service.requests import build_request
from bot.service.settings import extras_line, key_line
from bot.service.targets import Targets

_log = logging.getLogger(__name__)

BACK_TO_DEFAULT = "default"
MAX_MODELS_LISTED = 50
TEST_MESSAGE = "Hi"
TEST_MAX_TOKENS = 32
TEST_PREVIEW_CHARS = 120


@dataclasses.dataclass(frozen=True, slots=True)
class _Probe:
    url: str
    models: tuple[str, ...] = ()
    note: str = ""


class ConnectionCommands:
    def __init__(
        self,
        *,
        store: Store,
        client: CompletionClient,
        targets: Targets,
        catalog: ModelCatalog,
        clock: Clock,
    ) -> None:
        self._store = store
        self._client = client
        self._targets = targets
        self._catalog = catalog
        self._clock = clock

    def handlers(self) -> Handlers:
        return {
            "connect": self._connect,
            "models": self._models,
            "test": self._test,
            "extras": self._extras,
        }

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
                model=model,
                targets=self._targets,
            )
        )

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
        """Find where /models answers: the URL as given, then with /v1 added.

        A refusal by the endpoint guard ends it (the URL can never work); any other
        failure only warns, since some servers have no /models at all.
        """
        if bypass:
            return _Probe(repaired.url, note="Skipped the /models check, as asked.")
        first_error: EndpointError | None = None
        for candidate in probe_candidates(repaired.url):
            connection = Connection(candidate, api_key=key)
            try:
                models = await self._client.models(connection)
            except EndpointNotAllowed:
                raise
            except EndpointRejected as exc:
                if exc.status_code in (401, 403):  # the endpoint is there; it wants a key
                    return _Probe(candidate, note=f"/models: {user_message(exc)}")
                first_error = first_error or exc
            except EndpointError as exc:
                first_error = first_error or exc
            else:
                return _Probe(candidate, models=tuple(models))
        reason = user_message(first_error) if first_error else ""
        return _Probe(
            repaired.url,
            note=f"Couldn't list models there ({reason}) Saved anyway; /test sends a real "
            "message to check.",
        )

    async def _models(self, call: CommandCall) -> CommandResult:
        state = await self._store.load_channel(call.channel)
        connection = self._targets.require_connection(state)
        try:
            models = await self._catalog.models(connection)
        except EndpointError as exc:
            return CommandResult(
                f"Could not list the models. {user_message(exc)} "
                "You can still type a model id with /model name:<id>."
            )
        typed = call.options.get("filter", "")
        shown = filter_models(models, typed, limit=MAX_MODELS_LISTED) if typed else models
        if not shown:
            what = f"no models matching {typed!r}" if typed else "no models"
            return CommandResult(f"The endpoint lists {what}; type one with /model name:<id>.")
        listed = shown[:MAX_MODELS_LISTED]
        more = f"\n…and {len(shown) - len(listed)} more" if len(shown) > len(listed) else ""
        listing = "\n".join(f"• {model}" for model in listed)
        return CommandResult(f"Models:\n{listing}{more}", choices=tuple(listed))

    async def _test(self, call: CommandCall) -> CommandResult:
        """One short message the way this channel sends them (chat or text completion)."""
        state = await self._store.load_channel(call.channel)
        started = self._clock.now()
        model = ""
        try:
            connection, model = await self._targets.resolve(state)
            params = dataclasses.replace(
                state.params,
                max_tokens=min(state.params.max_tokens or TEST_MAX_TOKENS, TEST_MAX_TOKENS),
            )
            request = build_request(
                dataclasses.replace(state, params=params),
                connection,
                model,
                (ChatMessage(Role.USER, TEST_MESSAGE),),
                user_name=call.actor.display_name,
            )
            started = self._clock.now()
            completion = await self._client.complete(request)
        except (EndpointError, EndpointNotAllowed) as exc:
            advice = await self._close_matches(exc, state, model)
            return CommandResult(f"❌ The test failed. {user_message(exc)}{advice}")
        seconds = self._clock.now() - started
        words = completion.reply.content.strip() or "(no text)"
        if len(words) > TEST_PREVIEW_CHARS:
            words = words[:TEST_PREVIEW_CHARS] + "…"
        answered = completion.model or model
        return CommandResult(
            f"✅ The endpoint answered in {seconds:.2f} s.\nModel: {answered}\nReply: {words}"
        )

    async def _close_matches(self, exc: Exception, state: ChannelState, model: str) -> str:
        """For a refused model (404, or a 400 that names the model): ids that look like it."""
        if not model or not isinstance(exc, EndpointRejected):
            return ""
        named = exc.status_code == 400 and "model" in f"{exc} {exc.provider_message}".lower()
        if exc.status_code != 404 and not named:
            return ""
        connection = self._targets.connection_for(state)
        try:
            models = await self._catalog.models(connection) if connection else []
        except EndpointError:
            return ""
        if model in models:
            return ""
        close = difflib.get_close_matches(model, models, n=5, cutoff=0.4)
        if close:
            return f" {model!r} is not one of its models; close matches: {', '.join(close)}."
        return f" {model!r} is not one of its models; /models lists them."

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
    targets: Targets,
) -> str:
    changes = list(repaired.changes)
    if probe.url != repaired.url:
        changes.append("added /v1, where the endpoint answered")
    lines = [f"Connected this channel to {probe.url}."]
    if changes:
        lines.append(f"Using {probe.url}: I {'; '.join(changes)}.")
    lines.append(key_line(connection, operator=targets.default))
    keyless = connection is not None and connection.api_key is None
    if preset is not None and preset.key is KeyNeed.REQUIRED and keyless:
        lines.append(f"{preset.title} needs an API key: add api_key:<key>.")
    if preset is not None and preset.note:
        lines.append(preset.note)
    if probe.note:
        lines.append(probe.note)
    if model:
        lines.append(f"Model: {model}")
        if probe.models and model not in probe.models:
            close = difflib.get_close_matches(model, list(probe.models), n=3, cutoff=0.4)
            hint = f" Close matches: {', '.join(close)}." if close else ""
            lines.append(f"The endpoint does not list {model!r}; it is used anyway.{hint}")
    elif len(probe.models) == 1:
        lines.append(f"Model: {probe.models[0]} (the only one it offers)")
    else:
        lines.append("No model chosen yet: /models lists them, /model name:<id> picks one.")
    return "\n".join(lines)
