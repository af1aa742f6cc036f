"""Plain values that travel between the platforms, the service and the adapters.

Frozen dataclasses only: no SDK object, ORM row or wire dict is ever one of these.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NewType

ChatId = NewType("ChatId", int)
MessageId = NewType("MessageId", int)
MessageRef = NewType("MessageRef", str)
"""A platform's id for a message the bot sent; opaque to everything but its adapter."""


@dataclass(frozen=True, slots=True)
class ChannelKey:
    """Where a conversation lives: a platform and that platform's id for the channel.

    A key with a `parent_id` is a thread (a Discord thread is a side conversation of its
    channel). Its history is its own, but its settings (connection, model, prompt,
    parameters, character, …) are the parent's: admins set a channel up once and every
    thread in it follows, including later changes. So the store reads and writes settings
    through `settings_key` and history through the key itself.

    `parent_id` takes no part in equality or hashing: a thread's key equals its own id
    with or without it, so queues, write budgets and running turns stay per thread, and
    a key built without the parent (say, for a message edit) still finds the thread.
    """

    platform: str
    external_id: str
    parent_id: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id}"

    @property
    def settings_key(self) -> ChannelKey:
        """The channel whose settings apply here: the parent's for a thread, else this one."""
        if self.parent_id is None:
            return self
        return ChannelKey(self.platform, self.parent_id)


class Role(enum.StrEnum):
    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"  # only in prompts post-processing reshapes; never stored


class MessageStatus(enum.StrEnum):
    """How a stored turn ended; see `SAID_STATUSES` for which replies go back to the model."""

    COMPLETE = "complete"
    PENDING = "pending"  # streaming right now; found at start-up it means the process died
    STOPPED = "stopped"  # a user pressed stop; partial text kept
    INTERRUPTED = "interrupted"  # the process died mid-reply
    ERROR = "error"  # the endpoint failed; partial text kept


SAID_STATUSES = frozenset(
    {MessageStatus.COMPLETE, MessageStatus.STOPPED, MessageStatus.INTERRUPTED}
)
"""How a reply may end and still be part of the conversation, given some text: finished,
stopped by a member, or cut off by a crash. That text was shown in the chat, so the model
reads it as said and /continue carries it on, as in SillyTavern. A reply the endpoint broke
off with an error is left out: its text ends where the endpoint failed, not where the
conversation went."""


class Permission(enum.IntEnum):
    """Who may run a command, in increasing order of trust."""

    EVERYONE = 0
    CHANNEL_ADMIN = 1  # Manage Channels on Discord, a chat admin on Telegram
    SERVER_ADMIN = 2  # Manage Server on Discord
    OPERATOR = 3  # the person running the bot


class Secret:
    """A string that must never be printed: its repr and str are redacted."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def masked(self) -> str:
        """`sk-…abcd`: up to three leading characters and the last four; short keys hidden."""
        value = self._value
        if len(value) < 12:
            return "****"
        prefix = value[:3] if value[:3].isascii() else ""
        return f"{prefix}…{value[-4:]}"

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


class ApiType(enum.StrEnum):
    """Which endpoint a channel talks to: chat messages, or one prompt string."""

    CHAT = "chat"  # POST /chat/completions
    TEXT = "text"  # POST /completions with an instruct-formatted prompt


class ReasoningDisplay(enum.StrEnum):
    """How a model's reasoning is shown in the chat; it is stored either way."""

    HIDE = "hide"
    SPOILER = "spoiler"
    QUOTE = "quote"


@dataclass(frozen=True, slots=True)
class EndpointOptions:
    """How to talk to one endpoint beyond the standard request.

    `max_tokens_field` is learned: some endpoints accept only `max_completion_tokens`,
    others only `max_tokens`; once one is refused the other is remembered.
    """

    extra_body: Mapping[str, JsonValue] = field(default_factory=dict)
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    exclude_keys: tuple[str, ...] = ()
    bypass_models_check: bool = False
    max_tokens_field: str | None = None
    text_only_models: tuple[str, ...] = ()  # learned: these refused images


@dataclass(frozen=True, slots=True)
class Connection:
    """An endpoint the bot can call.

    `trusted` is true only for the operator's default from the environment; a URL
    typed in any chat (the console included) is untrusted.
    """

    base_url: str
    model: str | None = None
    api_key: Secret | None = None
    trusted: bool = False
    options: EndpointOptions = field(default_factory=EndpointOptions)
    name: str | None = None  # a profile's name; None for a channel's own connection


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Sampling settings; only the ones that are set are sent to the endpoint.

    `context_size` is ours (for fitting the prompt), never sent.
    """

    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    min_p: float | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    repetition_penalty: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    max_tokens: int | None = None
    context_size: int | None = None

    def as_mapping(self) -> dict[str, JsonValue]:
        """The set parameters under their OpenAI names (max_tokens included, context_size not)."""
        sent: dict[str, JsonValue] = {}
        for name in SENT_PARAMS:
            value = getattr(self, name)
            if value is not None and value != ():
                sent[name] = list(value) if isinstance(value, tuple) else value
        return sent


SENT_PARAMS = (
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "presence_penalty",
    "frequency_penalty",
    "repetition_penalty",
    "seed",
    "stop",
    "max_tokens",
)


@dataclass(frozen=True, slots=True)
class ChannelState:
    """What the service needs to know about a channel to run a turn."""

    key: ChannelKey
    chat_id: ChatId
    connection: Connection | None = None  # None: use the operator's default
    model: str | None = None  # the channel's choice; overrides the connection's model
    system_prompt: str | None = None
    params: SamplingParams = field(default_factory=SamplingParams)
    api_type: ApiType = ApiType.CHAT
    instruct_template: str | None = None  # for ApiType.TEXT
    reasoning_display: ReasoningDisplay = ReasoningDisplay.HIDE
    postprocess_mode: str = "none"  # a prompt.postprocess mode name
    postprocess_placeholder: str | None = None  # None: the default "[Start a new chat]"
    character_id: int | None = None
    answer_all: bool = False  # in groups: every message, not only mentions and replies


@dataclass(frozen=True, slots=True)
class ProfileSummary:
    """A named connection as /profile list shows it: never the key, only its mask."""

    name: str
    base_url: str
    key_hint: str | None
    model: str | None
    channels_using: int


class Keep(enum.Enum):
    """The marker for "leave this setting as it is" in a partial update."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True, slots=True)
class ChannelChanges:
    """The channel settings one command changes; fields left at KEEP stay as stored."""

    model: str | Keep | None = KEEP
    system_prompt: str | Keep | None = KEEP
    params: SamplingParams | Keep = KEEP
    api_type: ApiType | Keep = KEEP
    instruct_template: str | Keep | None = KEEP
    reasoning_display: ReasoningDisplay | Keep = KEEP
    postprocess_mode: str | Keep = KEEP
    postprocess_placeholder: str | Keep | None = KEEP
    character_id: int | Keep | None = KEEP
    answer_all: bool | Keep = KEEP


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message of a chat; for a reply with alternatives, the chosen one.

    `token_count` is cached by the tokenizer named in `token_counter`.
    """

    id: MessageId
    role: Role
    content: str
    status: MessageStatus
    author_name: str | None = None
    reasoning: str = ""
    created_at: datetime | None = None
    author_id: str | None = None
    images: tuple[str, ...] = ()  # data: URLs that came with a user's message
    token_count: int | None = None
    token_counter: str | None = None
    swipe_index: int = 0
    swipe_count: int = 1


@dataclass(frozen=True, slots=True)
class NewUserMessage:
    author_id: str
    author_name: str
    content: str
    platform_message_id: str | None = None
    images: tuple[str, ...] = ()  # data: URLs


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file that came with a message or command: an image, a character card."""

    filename: str
    content_type: str
    data: bytes

    def __repr__(self) -> str:
        return f"Attachment({self.filename!r}, {self.content_type!r}, {len(self.data)} bytes)"


@dataclass(frozen=True, slots=True)
class Persona:
    """Who a user is in the story: `{{user}}` becomes `name`; the description goes in the prompt."""

    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class TurnIds:
    user_message_id: MessageId
    assistant_message_id: MessageId


@dataclass(frozen=True, slots=True)
class TurnOutcome:
    """How one turn ended, as stored."""

    status: MessageStatus
    content: str
    reasoning: str = ""
    finish_reason: str | None = None
    error_text: str | None = None


@dataclass(frozen=True, slots=True)
class Incoming:
    """A chat message addressed to the bot, already stripped of platform details."""

    channel: ChannelKey
    author_id: str
    author_name: str
    text: str
    platform_message_id: str | None = None
    attachments: tuple[Attachment, ...] = ()
    server: str | None = None
    """The Discord server or Telegram group the channel belongs to; None in a DM or private
    chat (and the console). What usage is counted and limited per, besides the person."""


@dataclass(frozen=True, slots=True)
class Actor:
    """Who runs a command, with the rights their platform gave them."""

    user_id: str
    display_name: str
    permission: Permission
    roles: frozenset[str] | None = None
    """Their roles' ids in this server; None where the platform has no roles (Telegram,
    the console) or the call came from outside a server."""


@dataclass(frozen=True, slots=True)
class CommandCall:
    """A command as an adapter parsed it: its name and options, where, and who runs it."""

    name: str
    options: Mapping[str, str]
    channel: ChannelKey
    actor: Actor
    server: str | None = None  # the server (Discord guild) owning shared profiles, if any
    attachments: tuple[Attachment, ...] = ()

    @property
    def profile_scope(self) -> str:
        """Whose profiles and characters these are: the server's, else the chat's own."""
        if self.server:
            return f"server:{self.channel.platform}:{self.server}"
        return str(self.channel.settings_key)  # a thread shares its channel's library


@dataclass(frozen=True, slots=True)
class Confirmation:
    """A button under an answer that runs `/command confirm:<code>` for the one who asked:
    what a destructive command (/forget) needs pressed before it acts. The code is the
    service's, one-time, bound to that person and short-lived; platforms only carry it."""

    label: str
    command: str
    code: str

    @property
    def typed(self) -> str:
        """What to type where there are no buttons (the console)."""
        return f"/{self.command} confirm:{self.code}"


@dataclass(frozen=True, slots=True)
class CommandResult:
    """A command's answer; an `ephemeral` one is shown only to the caller where possible."""

    text: str
    ephemeral: bool = True
    choices: tuple[str, ...] = ()
    file: Attachment | None = None  # something to download (an exported card)
    speaker: str | None = None  # said by the character (a greeting, a swipe), not the bot
    confirmation: Confirmation | None = None  # a button to press before the command acts
    closes_confirmation: bool = False
    """The answer to a pressed confirmation that is now spent (done, used or expired): it
    takes the prompt's place and its button goes. False: told to the presser alone."""


@dataclass(frozen=True, slots=True)
class MediaPart:
    """An image (or video/audio) inside a message, as the endpoint receives it."""

    url: str  # a data: URL for attachments
    kind: str = "image_url"  # the OpenAI part type: image_url, video_url or audio_url
    detail: str | None = None


ContentPart = str | MediaPart
"""A piece of a multimodal message: text, or media."""


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of the prompt sent to the endpoint.

    A message with media carries `parts` (text and media in their order) and its
    text alone in `content` (the text parts joined by a blank line, "\n\n"), so
    counting, logging and text templates read one string. When `parts` is set it is
    the message's content; `content` is only its text.
    """

    role: Role
    content: str
    name: str | None = None
    parts: tuple[ContentPart, ...] = ()
    tool_calls: tuple[Mapping[str, JsonValue], ...] = ()
    tool_call_id: str | None = None

    @property
    def media(self) -> tuple[MediaPart, ...]:
        return tuple(part for part in self.parts if isinstance(part, MediaPart))


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A finished request: the client only transports it."""

    connection: Connection
    model: str
    messages: tuple[ChatMessage, ...]
    params: SamplingParams = field(default_factory=SamplingParams)
    prompt: str | None = None  # set: a text completion of this prompt instead of a chat
    max_reasoning_chars: int | None = None
    """Past this much reasoning the reply's consumer keeps no more of it, so the client stops
    counting reasoning as progress: only an answer then meets the first-token deadline."""


@dataclass(frozen=True, slots=True)
class TokenCounts:
    """Token counts of several texts, and which tokenizer produced them.

    `tokenizer` names the counter ("estimate", or an endpoint's tokenizer for one
    model); a cached count is reused only when the same tokenizer would count it.
    """

    tokenizer: str
    counts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class TokenSource(enum.StrEnum):
    """Where a turn's token count came from: the endpoint's `usage`, or our own count."""

    ENDPOINT = "endpoint"
    ESTIMATED = "estimated"


@dataclass(frozen=True, slots=True)
class TokenTally:
    """Tokens one side of a turn cost (the prompt, or the completion), and who said so."""

    tokens: int
    source: TokenSource


@dataclass(frozen=True, slots=True)
class TurnReport:
    """How one turn went, for operators' metrics: bounded values only, never what was said,
    which channel, or which model (chat admins type model names: unbounded, arbitrary).

    `cause` is an exception's class name with the HTTP status when there was one, "stop"
    or "cancelled"; None for a turn that ended well.
    """

    platform: str
    status: MessageStatus
    cause: str | None
    duration_seconds: float | None = None  # None: the turn failed before a reply began
    first_token_seconds: float | None = None
    prompt_tokens: TokenTally | None = None
    completion_tokens: TokenTally | None = None


@dataclass(frozen=True, slots=True)
class Delta:
    """One step of a streamed reply; any field may be empty."""

    content: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    usage: Usage | None = None


@dataclass(frozen=True, slots=True)
class Completion:
    """A whole, non-streamed reply, with the model the endpoint says answered."""

    reply: Delta
    model: str | None = None


def count_chars(text: str) -> int:
    return len(text)


def count_utf16_units(text: str) -> int:
    """Telegram counts UTF-16 code units: characters outside the BMP count twice."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """What a platform allows one channel: message length, and a write budget.

    `writes_per_window` sends and edits are allowed per `window_seconds` in a channel.
    `placeholder` says whether a reply starts with a placeholder message; where writes are
    scarce (Telegram groups: 20 a minute) a typing action stands in for it instead.
    """

    max_length: int
    writes_per_window: int
    window_seconds: float
    measure: Callable[[str], int] = count_chars
    placeholder: bool = True


@dataclass(frozen=True, slots=True)
class Billing:
    """Whom a turn is counted to: the person who asked for the reply (for a regenerated one,
    who pressed the button) and the server it happened in (None in a DM and the console)."""

    user_id: str
    server: str | None = None


@dataclass(frozen=True, slots=True)
class UsageEntry:
    """One turn whose reply began at the endpoint, as usage accounting keeps it.

    Never text, a key or a full URL: `endpoint_host` is the host (and port, when the URL
    names one) alone. `trusted` says the operator's endpoint paid for it.
    """

    created_at: datetime
    platform: str
    user_id: str
    server: str | None
    channel: str
    model: str
    endpoint_host: str
    trusted: bool
    prompt_tokens: TokenTally
    completion_tokens: TokenTally
    duration_seconds: float
    status: MessageStatus


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """What some turns cost in tokens; `estimated_turns` of them had a side we counted."""

    turns: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    estimated_turns: int = 0

    def __add__(self, other: UsageTotals) -> UsageTotals:
        return UsageTotals(
            self.turns + other.turns,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.estimated_turns + other.estimated_turns,
        )


@dataclass(frozen=True, slots=True)
class UsageGroup:
    """The totals of one person's turns with one model, over some time."""

    user_id: str
    model: str
    totals: UsageTotals


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """What the operator says a model costs, in USD per million tokens of each side."""

    prompt_per_million: float
    completion_per_million: float

    def cost(self, totals: UsageTotals) -> float:
        """USD for those totals."""
        return (
            totals.prompt_tokens * self.prompt_per_million
            + totals.completion_tokens * self.completion_per_million
        ) / 1_000_000
