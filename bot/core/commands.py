"""The command catalogue: every command, its options and who may run it, defined once.

Adapters render this into native commands (slash commands, Telegram menus, the
console's `/name opt:value`); the service checks calls against it. It knows no
platform. To add a command, write its spec here and its handler in one family module
of bot/service/commands/ (registry.py there says how); the platforms need no change.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from bot.core.domain import CommandCall, Permission, ReasoningDisplay
from bot.core.errors import PermissionDenied, UsageError
from bot.prompt.instruct import TEMPLATES
from bot.prompt.postprocess import PostProcessMode

TEMPLATE_NAMES = tuple(TEMPLATES)
CHARACTER_ACTIONS = ("import", "list", "use", "show", "remove", "export")
LISTEN_MODES = ("mentions", "all")
USAGE_SCOPES = ("me", "server")
EXPORT_FORMATS = ("jsonl", "markdown")
ACCESS_ACTIONS = ("list", "allow", "remove", "clear")
FORGET_TARGETS = ("me", "channel")


class OptionKind(enum.StrEnum):
    TEXT = "text"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    ATTACHMENT = "attachment"  # a file; adapters put it in CommandCall.attachments, not options


@dataclass(frozen=True, slots=True)
class OptionSpec:
    name: str
    description: str
    kind: OptionKind = OptionKind.TEXT
    required: bool = False
    secret: bool = False  # never echoed, never logged; adapters may collect it privately
    choices: tuple[str, ...] = ()  # the only values allowed; adapters offer them as a picker
    autocomplete: str | None = None  # a source of suggestions: "models", "presets"


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command as every platform offers it: what it is called, takes and needs."""

    name: str
    description: str
    permission: Permission
    options: tuple[OptionSpec, ...] = ()
    streams: bool = False
    """Its answer is a reply streamed into the chat (platforms call `rewrite`), not a
    one-off result (`run_command`)."""

    def option(self, name: str) -> OptionSpec | None:
        return next((o for o in self.options if o.name == name), None)

    @property
    def takes_file(self) -> bool:
        """Whether a file sent with the command belongs to it (platforms attach it)."""
        return any(o.kind is OptionKind.ATTACHMENT for o in self.options)

    @property
    def usage(self) -> str:
        parts = [f"/{self.name}"]
        for option in self.options:
            parts.append(f"{option.name}:…" if option.required else f"[{option.name}:…]")
        return " ".join(parts)


_NUMBER = OptionKind.NUMBER
_INTEGER = OptionKind.INTEGER
_BOOLEAN = OptionKind.BOOLEAN

CATALOGUE: tuple[CommandSpec, ...] = (
    CommandSpec(
        "connect",
        "Point this channel at an OpenAI-compatible endpoint (base_url:default: back to "
        "the operator's).",
        Permission.SERVER_ADMIN,
        (
            OptionSpec("base_url", "Base URL, e.g. http://host:8080/v1"),
            OptionSpec("preset", "A known server or service", autocomplete="presets"),
            OptionSpec("api_key", "API key, stored encrypted and never shown again", secret=True),
            OptionSpec("model", "Model id to use", autocomplete="models"),
            OptionSpec("bypass_check", "Don't probe /models (for endpoints without it)",
                       _BOOLEAN),
        ),
    ),
    CommandSpec(
        "profile",
        "Save, use, list or delete named connections shared by this server or chat.",
        Permission.SERVER_ADMIN,
        (
            OptionSpec("action", "save, use, list or delete", required=True,
                       choices=("save", "use", "list", "delete")),
            OptionSpec("name", "The profile's name", autocomplete="profiles"),
            OptionSpec("base_url", "For save: the base URL (default: this channel's)"),
            OptionSpec("api_key", "For save: the API key", secret=True),
            OptionSpec("model", "For save: the model", autocomplete="models"),
        ),
    ),
    CommandSpec(
        "model",
        "Show or choose the model this channel talks to.",
        Permission.CHANNEL_ADMIN,
        (OptionSpec("name", "Model id (see /models)", autocomplete="models"),),
    ),
    CommandSpec(
        "models",
        "List the models the endpoint offers.",
        Permission.EVERYONE,
        (OptionSpec("filter", "Only ids containing this text"),),
    ),
    CommandSpec("test", "Send a short test message and report what happened.",
                Permission.CHANNEL_ADMIN),
    CommandSpec(
        "params",
        "Show or set sampling parameters; only the ones set are sent (value 'default' unsets).",
        Permission.CHANNEL_ADMIN,
        (
            OptionSpec("temperature", "Randomness, e.g. 0.8", _NUMBER),
            OptionSpec("top_p", "Nucleus sampling, 0 to 1", _NUMBER),
            OptionSpec("top_k", "Sample from the k likeliest tokens", _INTEGER),
            OptionSpec("min_p", "Minimum probability relative to the top token, 0 to 1", _NUMBER),
            OptionSpec("presence_penalty", "Penalty for repeating any token, -2 to 2", _NUMBER),
            OptionSpec("frequency_penalty", "Penalty growing with repetition, -2 to 2", _NUMBER),
            OptionSpec("repetition_penalty", "Multiplicative repetition penalty, e.g. 1.1",
                       _NUMBER),
            OptionSpec("seed", "Fixed seed for repeatable replies", _INTEGER),
            OptionSpec("stop", "Stop strings, separated by |"),
            OptionSpec("max_tokens", "Longest reply, in tokens", _INTEGER),
            OptionSpec("context_size", "The model's context window, in tokens", _INTEGER),
            OptionSpec("reset", "Unset every parameter", _BOOLEAN),
        ),
    ),
    CommandSpec(
        "extras",
        "Show or set this channel's connection extras: body JSON, headers JSON, keys to drop.",
        Permission.SERVER_ADMIN,
        (
            OptionSpec("body", 'JSON merged into every request, e.g. {"top_a": 0.1}'),
            OptionSpec("headers", 'JSON of extra headers, e.g. {"X-Title": "Parlor"}',
                       secret=True),
            OptionSpec("exclude", "Request keys to remove, separated by commas"),
            OptionSpec("reset", "Remove every extra", _BOOLEAN),
        ),
    ),
    CommandSpec(
        "api",
        "Chat completion, or text completion with an instruct template.",
        Permission.CHANNEL_ADMIN,
        (
            OptionSpec("type", "chat or text", required=True, choices=("chat", "text")),
            OptionSpec("template", "Instruct template for text completion",
                       choices=tuple(TEMPLATE_NAMES)),
        ),
    ),
    CommandSpec(
        "postprocess",
        "Reshape prompts for strict endpoints: none, merge, semi, strict, single (+ _tools).",
        Permission.CHANNEL_ADMIN,
        (OptionSpec("mode", "How strictly to order the messages",
                    choices=tuple(m.value for m in PostProcessMode)),
         OptionSpec("placeholder", "The user message strict mode adds where one is missing "
                    "(default: [Start a new chat])")),
    ),
    CommandSpec(
        "reasoning",
        "How the model's reasoning is shown: hide, spoiler or quote.",
        Permission.CHANNEL_ADMIN,
        (OptionSpec("mode", "hide, spoiler or quote", required=True,
                    choices=tuple(m.value for m in ReasoningDisplay)),),
    ),
    CommandSpec(
        "listen",
        "In a group: answer only mentions and replies, or every message.",
        Permission.CHANNEL_ADMIN,
        (OptionSpec("mode", "mentions or all", required=True, choices=LISTEN_MODES),),
    ),
    CommandSpec("settings", "Show this channel's settings (the key masked).", Permission.EVERYONE),
    CommandSpec(
        "system",
        "Set this channel's system prompt; with no prompt, clear it.",
        Permission.CHANNEL_ADMIN,
        (OptionSpec("prompt", "The system prompt"),),
    ),
    CommandSpec(
        "reset", "Archive this conversation and start a new one.", Permission.CHANNEL_ADMIN
    ),
    CommandSpec(
        "character",
        "Import, list, use, show, remove or export the characters of this server or chat.",
        Permission.EVERYONE,
        (
            OptionSpec("action", "import, list, use, show, remove or export", required=True,
                       choices=CHARACTER_ACTIONS),
            OptionSpec("name", "The character's name", autocomplete="characters"),
            OptionSpec("file", "For import: a card (PNG, JSON or CHARX)", OptionKind.ATTACHMENT),
            OptionSpec("url", "For import: a link to a card"),
            OptionSpec("format", "For export: png, json (V2) or json_v3",
                       choices=("png", "json", "json_v3")),
        ),
    ),
    CommandSpec(
        "greeting",
        "Start a new chat with the character's greeting (0 = first message, 1… = alternates).",
        Permission.CHANNEL_ADMIN,
        (OptionSpec("index", "Which greeting", _INTEGER),),
    ),
    CommandSpec(
        "persona",
        "Say who you are in stories here: {{user}} becomes your name. No name: forget it.",
        Permission.EVERYONE,
        (OptionSpec("name", "Your name in the story"),
         OptionSpec("description", "A few lines the character should know about you")),
    ),
    CommandSpec(
        "regenerate", "Write my last reply again; the old one stays as a swipe.",
        Permission.EVERYONE, streams=True,
    ),
    # Not streamed: a kept version is shown whole, in the pressed message (replies.py says why).
    CommandSpec(
        "swipe", "Show another kept version of my last reply.", Permission.EVERYONE,
        (OptionSpec("direction", "next or previous", choices=("next", "previous")),),
    ),
    CommandSpec(
        "continue", "Carry on my last reply where it stopped.", Permission.EVERYONE,
        streams=True,
    ),
    CommandSpec(
        "access",
        "Keep the bot to some channels or roles of this server (list, allow, remove, clear).",
        Permission.SERVER_ADMIN,
        (
            OptionSpec("action", "list (default), allow, remove or clear", choices=ACCESS_ACTIONS),
            OptionSpec("channel", "A #channel, its id, or here"),
            OptionSpec("role", "A @role or its id"),
        ),
    ),
    CommandSpec(
        "usage",
        "Tokens you used today and this month; scope:server shows this server's (admins).",
        Permission.EVERYONE,
        (OptionSpec("scope", "me (default) or server", choices=USAGE_SCOPES),),
    ),
    CommandSpec(
        "limits",
        "Your message and token limits here and what is left; admins set this server's own.",
        Permission.EVERYONE,
        (
            OptionSpec("user_messages_per_minute", "Each person's messages a minute here (admins)",
                       _INTEGER),
            OptionSpec("user_tokens_per_day", "Each person's tokens a day here (admins)", _INTEGER),
            OptionSpec("user_tokens_per_month", "Each person's tokens a month here (admins)",
                       _INTEGER),
            OptionSpec("server_messages_per_minute", "Everyone's messages a minute here (admins)",
                       _INTEGER),
            OptionSpec("server_tokens_per_day", "Everyone's tokens a day here (admins)", _INTEGER),
            OptionSpec("server_tokens_per_month", "Everyone's tokens a month here (admins)",
                       _INTEGER),
            OptionSpec("reset", "true: drop this server's own limits (admins)", _BOOLEAN),
        ),
    ),
    CommandSpec(
        "export",
        "Send this channel's conversation as a file: a SillyTavern chat, or Markdown.",
        Permission.EVERYONE,
        (OptionSpec("format", "jsonl (default; opens in SillyTavern) or markdown",
                    choices=EXPORT_FORMATS),),
    ),
    CommandSpec(
        "chats",
        "List this channel's archived chats; open:N reopens one, a SillyTavern chat file "
        "imports one.",
        Permission.EVERYONE,
        (OptionSpec("open", "Reopen chat N of the list (needs the right to manage this channel)",
                    _INTEGER),
         OptionSpec("file", "Import a SillyTavern chat (.jsonl) as this channel's conversation",
                    OptionKind.ATTACHMENT)),
    ),
    CommandSpec(
        "forget",
        "Erase what I keep about you, or this channel's history (admins); asks to confirm first.",
        Permission.EVERYONE,
        (OptionSpec("target", "me (default) or channel", choices=FORGET_TARGETS),
         OptionSpec("confirm", "A confirmation's code (its button fills this in)")),
    ),
    CommandSpec("stop", "Stop the reply being written.", Permission.EVERYONE),
    CommandSpec("help", "List the commands.", Permission.EVERYONE),
)  # fmt: skip

_BY_NAME: Mapping[str, CommandSpec] = {spec.name: spec for spec in CATALOGUE}


def find_command(name: str) -> CommandSpec | None:
    return _BY_NAME.get(name.lower())


def streams(name: str) -> bool:
    """Whether the command named so answers with a streamed reply; False if unknown."""
    spec = find_command(name)
    return spec is not None and spec.streams


def takes_file(name: str) -> bool:
    """Whether the command named so takes a file; False if unknown."""
    spec = find_command(name)
    return spec is not None and spec.takes_file


def check_call(call: CommandCall) -> CommandSpec:
    """The command's spec, once the call names a known command with valid options and rights.

    Raises UsageError for an unknown command or option, or a missing required
    option; PermissionDenied when the caller lacks the right.
    """
    spec = find_command(call.name)
    if spec is None:
        raise UsageError(f"There is no /{call.name} command. /help lists them.")
    if call.actor.permission < spec.permission:
        raise PermissionDenied(f"/{spec.name} needs {_permission_words(spec.permission)}.")
    for name in call.options:
        if spec.option(name) is None:
            known = ", ".join(o.name for o in spec.options) or "no options"
            raise UsageError(f"/{spec.name} has no option '{name}'; it takes {known}.")
    for option in spec.options:
        value = call.options.get(option.name, "").strip()
        if option.required and not value:
            raise UsageError(f"/{spec.name} needs {option.name}. Usage: {spec.usage}")
        if value and option.choices and value.lower() not in option.choices:
            allowed = ", ".join(option.choices)
            raise UsageError(f"{option.name} must be one of: {allowed}.")
    return spec


def _permission_words(permission: Permission) -> str:
    return {
        Permission.EVERYONE: "no special rights",
        Permission.CHANNEL_ADMIN: "the right to manage this channel",
        Permission.SERVER_ADMIN: "the right to manage the server or group",
        Permission.OPERATOR: "the bot's operator",
    }[permission]


_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def parse_boolean(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise UsageError(f"{name} must be true or false.")


def parse_number(name: str, raw: str, *, low: float, high: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise UsageError(f"{name} must be a number from {low:g} to {high:g}.") from None
    if not low <= value <= high:
        raise UsageError(f"{name} must be from {low:g} to {high:g}; {value:g} is outside.")
    return value


def parse_integer(name: str, raw: str, *, low: int, high: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise UsageError(f"{name} must be a whole number from {low} to {high}.") from None
    if not low <= value <= high:
        raise UsageError(f"{name} must be from {low} to {high}; {value} is outside.")
    return value
