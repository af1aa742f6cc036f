"""The error tree every layer raises into, and the words a user sees for each error.

BotError
├── ConfigError                   (the settings cannot start the bot)
│   └── PlatformRefused           (a platform refused the token or the connection, at
│                                  start or later: the process ends with this line)
├── UsageError                    (a command was given bad input; the text says what to fix)
│   ├── CardError                 (a card file cannot be read; bot/characters/errors.py)
│   └── PromptTooLarge            (needed, room: the prompt cannot fit; bot/prompt/budget.py)
├── PermissionDenied              (the caller lacks the right for a command)
├── ChannelBusy                   (the channel's queue is full)
├── QuotaReached                  (limit, allowed, resets_at, wait_seconds: a quota is used up)
├── ShuttingDown                  (the bot is stopping: no new turn starts)
├── SecretsUnavailable            (no ENCRYPTION_KEYS: a chat-entered key cannot be stored)
├── StorageError                  (the database failed; SQLAlchemy's error is its cause)
├── EndpointNotAllowed            (the endpoint guard said no)
├── EndpointError                 (network, timeout, status, bad stream; hint)
│   ├── EndpointUnreachable
│   ├── EndpointTimeout           (phase: connect, first_token, idle, total)
│   ├── EndpointRejected          (status_code, provider message)
│   │   ├── EndpointRateLimited   (retry_after)
│   │   ├── MaxTokensFieldRejected (use_field: the other max-tokens name to retry with)
│   │   ├── RoleOrderRejected     (the endpoint wants alternating roles, system first)
│   │   └── ImagesRejected        (the model reads no images; retried without them)
│   └── EndpointStreamError       (garbage, an error inside a 200 stream, a cut stream)
└── DeliveryError                 (platform send/edit failed; retry_after)

Exceptions that never leave their module, and so are not BotErrors: `_NoCount`
(bot/llm/tokenize.py, a failed count that falls back to the estimate), `_Gone`
(bot/platforms/discord/replier.py and telegram/replier.py, a message deleted under us),
`FileProblem` (bot/platforms/console/files.py, shown as the console's answer) and
`_Refused`, a ValueError (bot/service/turns/extras.py, one broken /extras rule).

Adapters translate their libraries' exceptions into these at their edge; nothing
above them ever sees an httpx or SQLAlchemy exception. Messages never carry a
secret, a full URL with a query, or a raw response body.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.windows import reset_words, wait_words

MAX_PROVIDER_MESSAGE_CHARS = 300


class BotError(Exception):
    """Base of every error Parlor raises on purpose."""


class ConfigError(BotError):
    """The settings cannot start the bot; the text says which setting to fix and how."""


class PlatformRefused(ConfigError):
    """A chat platform refused the bot's token, at start or while running, or another
    process holds its connection: serving is impossible, so the process ends with this
    line for the operator (and a restart policy) to see. The text names the setting and
    what to do, never the token."""


class UsageError(BotError):
    """A command was given bad input; its text, shown as it is, says what to fix."""


class PermissionDenied(BotError):
    """The caller lacks the right a command needs."""


class ChannelBusy(BotError):
    """The channel's queue of turns is full."""


class QuotaReached(BotError):
    """A quota is used up: nothing went to the endpoint and the message was not kept.

    `limit` is the limit's name (user_tokens_per_day, …), `allowed` its value, `resets_at`
    when a turn will be let through again (UTC) and `wait_seconds` how long that is from
    now. `place` is what the platform calls a server ("server", "group"); `in_server` says
    a person's limit is this server's own (its admins'), counted in this server only.
    """

    def __init__(
        self,
        *,
        limit: str,
        allowed: int,
        resets_at: datetime,
        wait_seconds: float,
        place: str = "server",
        by_admins: bool = False,
        in_server: bool = False,
    ) -> None:
        super().__init__(f"quota reached: {limit}")
        self.limit = limit
        self.allowed = allowed
        self.resets_at = resets_at
        self.wait_seconds = wait_seconds
        self.place = place
        self.by_admins = by_admins
        self.in_server = in_server


class ShuttingDown(BotError):
    """The bot is stopping (SIGTERM, a container's stop): a turn asked for now, or still
    waiting for its channel, is refused with a line saying to send it again."""


class SecretsUnavailable(BotError):
    """No ENCRYPTION_KEYS are set, so a key typed in a chat cannot be stored."""


class StorageError(BotError):
    """The database failed; the library's exception is its cause, never its text (which may
    quote SQL or values), except when the database cannot be opened at all: then the OS's or
    server's reason is quoted, as it holds neither (bot/storage/db.py)."""


class EndpointNotAllowed(BotError):
    """The endpoint guard refused where a chat-set endpoint would connect (an address, a socket)."""


class EndpointError(BotError):
    """The model endpoint failed; `hint` tells the user what to try."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class EndpointUnreachable(EndpointError):
    """No connection was made: an invalid base URL, TLS, nothing listening, an unknown host."""


class EndpointTimeout(EndpointError):
    """A deadline passed; `phase` says which (connect, first_token, idle or total)."""

    def __init__(self, message: str, *, phase: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.phase = phase


class EndpointRejected(EndpointError):
    """The endpoint answered with a refusal: an HTTP status, or an error where a reply was due."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        provider_message: str = "",
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.status_code = status_code
        self.provider_message = provider_message[:MAX_PROVIDER_MESSAGE_CHARS]


class EndpointRateLimited(EndpointRejected):
    """Too many requests; `retry_after` is the wait the endpoint asked for, when it said."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int = 429,
        provider_message: str = "",
        retry_after: float | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(
            message, status_code=status_code, provider_message=provider_message, hint=hint
        )
        self.retry_after = retry_after


class MaxTokensFieldRejected(EndpointRejected):
    """A 400 refusing max_tokens (or max_completion_tokens); the service retries once."""

    def __init__(
        self, message: str, *, status_code: int, provider_message: str, use_field: str
    ) -> None:
        super().__init__(message, status_code=status_code, provider_message=provider_message)
        self.use_field = use_field


class RoleOrderRejected(EndpointRejected):
    """A 400 about message order; the service retries with a stricter post-processing mode."""


class ImagesRejected(EndpointRejected):
    """The model cannot read images; the service retries with the words alone."""


class EndpointStreamError(EndpointError):
    """The reply stream was garbage, carried an error inside a 200, or was cut short."""


class DeliveryError(BotError):
    """A platform refused a send or edit; `retry_after` is set when it asked us to wait."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def user_message(exc: BaseException) -> str:
    """The sentences a chat user sees for an error: what happened and what to try.

    Anything that is not one of ours becomes a generic line; its details go to the
    log, never to the chat.
    """
    if isinstance(exc, EndpointError):
        parts = [str(exc)]
        if isinstance(exc, EndpointRejected) and exc.provider_message:
            parts.append(f"The endpoint said: {exc.provider_message}")
        parts.append(exc.hint)
        return " ".join(_sentence(part) for part in parts if part.strip())
    if isinstance(exc, QuotaReached):
        return _quota_line(exc)
    if isinstance(exc, BotError):
        return str(exc)
    return "Something went wrong on our side; the details are in the bot's log."


def _sentence(text: str) -> str:
    """Capitalised and closed with a full stop, so joined parts read as sentences."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?…)" else f"{text}."


def _quota_line(exc: QuotaReached) -> str:
    """One line: whose limit, how much, and when it resets, absolute (UTC) and relative.

    "You've reached your limit of 50,000 tokens per day; it resets at 00:00 UTC, in 3 h
    12 min." A per-minute rate says only how long to wait.
    """
    who, _, rest = exc.limit.partition("_")
    unit, _, period = rest.partition("_per_")
    if who == "user":
        whose = f"your limit in this {exc.place}" if exc.in_server else "your limit"
        head = f"You've reached {whose}"
    else:
        head = f"This {exc.place} has reached its limit"
    line = f"{head} of {exc.allowed:,} {unit} per {period}"
    if exc.by_admins:
        line += f" (set by this {exc.place}'s admins)"
    if period == "minute":
        return f"{line}; try again in {wait_words(exc.wait_seconds)}."
    reset = reset_words(exc.resets_at, monthly=period == "month", wait_seconds=exc.wait_seconds)
    return f"{line}; it resets {reset}."
