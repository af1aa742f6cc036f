"""Handlers of the commands that read or change a channel's own settings.

Prompt, sampling, API type, reasoning display, the settings overview and
/reset. Keys are only ever shown masked; header values never.
"""

from __future__ import annotations

from bot.core.domain import (
    KEEP,
    ApiType,
    ChannelChanges,
    ChannelState,
    CommandCall,
    CommandResult,
    Connection,
    ReasoningDisplay,
)
from bot.core.errors import UsageError
from bot.core.ports import Characters, Store
from bot.core.untrusted import safe_to_show
from bot.prompt.postprocess import DEFAULT_PLACEHOLDER
from bot.service.commands.params import apply_params, describe_params
from bot.service.commands.registry import answers
from bot.service.turns.endpoint_choice import EndpointChoice
from bot.service.turns.requests import DEFAULT_TEMPLATE

MAX_SYSTEM_PROMPT_CHARS = 20_000
PROMPT_PREVIEW_CHARS = 200
MAX_PLACEHOLDER_CHARS = 500


class SettingsCommands:
    """The commands that read or change one channel's own settings."""

    def __init__(self, *, store: Store, endpoints: EndpointChoice, characters: Characters) -> None:
        self._store = store
        self._endpoints = endpoints
        self._characters = characters

    @answers("params")
    async def _params(self, call: CommandCall) -> CommandResult:
        state = await self._store.load_channel(call.channel)
        if not call.options:
            return CommandResult(f"Sampling parameters:\n{describe_params(state.params)}")
        params = apply_params(state.params, call.options)
        await self._store.update_channel(call.channel, ChannelChanges(params=params))
        return CommandResult(f"Sampling parameters now:\n{describe_params(params)}")

    @answers("api")
    async def _api(self, call: CommandCall) -> CommandResult:
        api_type = ApiType(call.options["type"].strip().lower())
        template = call.options.get("template", "").strip().lower() or None
        if api_type is ApiType.CHAT:
            if template:
                raise UsageError("A template only applies to type:text. Nothing was changed.")
            await self._store.update_channel(
                call.channel, ChannelChanges(api_type=api_type, instruct_template=None)
            )
            return CommandResult("This channel uses chat completion (/chat/completions).")
        chosen = template or DEFAULT_TEMPLATE
        await self._store.update_channel(
            call.channel, ChannelChanges(api_type=api_type, instruct_template=chosen)
        )
        return CommandResult(
            f"This channel uses text completion (/completions) with the {chosen} template."
        )

    @answers("reasoning")
    async def _reasoning(self, call: CommandCall) -> CommandResult:
        mode = ReasoningDisplay(call.options["mode"].strip().lower())
        await self._store.update_channel(call.channel, ChannelChanges(reasoning_display=mode))
        words = {
            ReasoningDisplay.HIDE: "hidden (it is still kept with each reply)",
            ReasoningDisplay.SPOILER: "shown as a spoiler above the answer",
            ReasoningDisplay.QUOTE: "shown quoted above the answer",
        }
        return CommandResult(f"The model's reasoning is now {words[mode]}.")

    @answers("listen")
    async def _listen(self, call: CommandCall) -> CommandResult:
        every = call.options["mode"].strip().lower() == "all"
        await self._store.update_channel(call.channel, ChannelChanges(answer_all=every))
        if every:
            return CommandResult(
                "I now answer every message here. (On Discord this needs the Message Content "
                "intent; in a Telegram group, privacy mode off in @BotFather or admin rights "
                "for the bot.)",
                ephemeral=False,
            )
        return CommandResult("I now answer only when mentioned or replied to.", ephemeral=False)

    @answers("postprocess")
    async def _postprocess(self, call: CommandCall) -> CommandResult:
        mode = call.options.get("mode", "").strip().lower()
        placeholder = call.options.get("placeholder")
        if not mode and placeholder is None:
            state = await self._store.load_channel(call.channel)
            shown = state.postprocess_placeholder or DEFAULT_PLACEHOLDER
            return CommandResult(
                f"Post-processing: {state.postprocess_mode}; placeholder: {shown}. "
                "Change them with /postprocess mode:<mode> placeholder:<text>."
            )
        if placeholder is not None and len(placeholder) > MAX_PLACEHOLDER_CHARS:
            raise UsageError(f"The placeholder can be {MAX_PLACEHOLDER_CHARS} characters at most.")
        changes = ChannelChanges(
            postprocess_mode=mode or KEEP,
            postprocess_placeholder=(
                KEEP if placeholder is None else (placeholder.strip() or None)
            ),
        )
        await self._store.update_channel(call.channel, changes)
        said = []
        if mode:
            said.append(f"Prompts in this channel are now post-processed: {mode}.")
        if placeholder is not None:
            text = placeholder.strip() or DEFAULT_PLACEHOLDER
            said.append(f"Strict modes now add the user message {text!r} where one is missing.")
        return CommandResult(" ".join(said))

    @answers("settings")
    async def _show(self, call: CommandCall) -> CommandResult:
        state = await self._store.load_channel(call.channel)
        if state.connection is not None:
            name = state.connection.name
            where = f"from the profile {name}" if name else "set in this channel"
            endpoint = f"{state.connection.base_url} ({where})"
        elif self._endpoints.default is not None:
            endpoint = "the operator's default endpoint"
        else:
            endpoint = "none (an admin can run /connect base_url:<url>)"
        prompt = state.system_prompt or "none"
        if len(prompt) > PROMPT_PREVIEW_CHARS:
            prompt = prompt[:PROMPT_PREVIEW_CHARS] + "…"
        lines = [
            f"Endpoint: {endpoint}",
            f"Model: {self._endpoints.chosen_model(state) or 'not chosen'}",
            key_line(state.connection, operator=self._endpoints.default),
            _api_line(state),
            f"Reasoning: {state.reasoning_display.value}",
            f"Post-processing: {state.postprocess_mode}",
            f"Answers: {'every message' if state.answer_all else 'mentions and replies'}",
            f"Parameters: {describe_params(state.params)}".replace("\n", "; "),
        ]
        if state.connection is not None:
            lines.append(extras_line(state.connection))
        lines.append(f"System prompt: {prompt}")
        lines.append(f"Character: {await self._character_name(state)}")
        return CommandResult("\n".join(lines))

    async def _character_name(self, state: ChannelState) -> str:
        if state.character_id is None:
            return "none (/character use name:<name>)"
        stored = await self._characters.character(state.character_id)
        return safe_to_show(stored.name) if stored is not None else "none (its card was removed)"

    @answers("system")
    async def _system(self, call: CommandCall) -> CommandResult:
        prompt = call.options.get("prompt", "").strip()
        if len(prompt) > MAX_SYSTEM_PROMPT_CHARS:
            raise UsageError(
                f"That prompt is {len(prompt)} characters; the limit is "
                f"{MAX_SYSTEM_PROMPT_CHARS}. Nothing was changed."
            )
        await self._store.update_channel(call.channel, ChannelChanges(system_prompt=prompt or None))
        return CommandResult("System prompt set." if prompt else "System prompt cleared.")

    @answers("reset")
    async def _reset(self, call: CommandCall) -> CommandResult:
        await self._store.reset_chat(call.channel)
        return CommandResult(
            "Started a new conversation; the old one is archived.", ephemeral=False
        )


def _api_line(state: ChannelState) -> str:
    if state.api_type is ApiType.TEXT:
        return f"API: text completion, {state.instruct_template or DEFAULT_TEMPLATE} template"
    return "API: chat completion"


def key_line(connection: Connection | None, *, operator: Connection | None) -> str:
    if connection is None:
        has_key = operator is not None and operator.api_key is not None
        return "API key: the operator's" if has_key else "API key: none"
    if connection.api_key is None:
        return "API key: none"
    return f"API key: set ({connection.api_key.masked()})"


def extras_line(connection: Connection) -> str:
    """Header names only: a header's value may be a credential."""
    options = connection.options
    parts = []
    if options.extra_body:
        parts.append("body " + ", ".join(sorted(options.extra_body)))
    if options.extra_headers:
        parts.append("headers " + ", ".join(sorted(options.extra_headers)) + " (values hidden)")
    if options.exclude_keys:
        parts.append("dropping " + ", ".join(options.exclude_keys))
    if options.bypass_models_check:
        parts.append("no /models check")
    if options.max_tokens_field:
        parts.append(f"length field {options.max_tokens_field}")
    return "Extras: " + (safe_to_show("; ".join(parts)) if parts else "none")
