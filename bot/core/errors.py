"""The error tree every layer raises into, and the words a user sees for each error.

BotError
├── ConfigError
├── UsageError                    (a command was given bad input; the text says what to fix)
├── PermissionDenied              (the caller lacks the right for a command)
├── ChannelBusy                   (the channel's queue is full)
├── SecretsUnavailable            (no ENCRYPTION_KEYS: a chat-entered key cannot be stored)
├── EndpointError                 (network, timeout, status, bad stream)
│   ├── EndpointUnreachable
│   ├── EndpointTimeout           (phase: connect, first_token, idle, total)
│   ├── EndpointRejected          (status_code, provider message)
│   │   ├── EndpointRateLimited   (retry_after)
│   │   ├── MaxTokensFieldRejected (use_field: the other max-tokens name to retry with)
│   │   └── RoleOrderRejected     (the endpoint wants alternating roles, system first)
│   └── EndpointStreamError       (garbage, an error inside a 200 stream, a cut stream)
├── EndpointNotAllowed            (the endpoint guard said no)
├── StorageError
└── DeliveryError                 (platform send/edit failed; retry_after)

Adapters translate their libraries' exceptions into these at their edge; nothing
above them ever sees an httpx or SQLAlchemy exception. Messages never carry a
secret, a full URL with a query, or a raw response body.
"""

from __future__ import annotations

MAX_PROVIDER_MESSAGE_CHARS = 300


class BotError(Exception):
    """Base of every error Parlor raises on purpose."""


class ConfigError(BotError):
    pass


class UsageError(BotError):
    pass


class PermissionDenied(BotError):
    pass


class ChannelBusy(BotError):
    pass


class SecretsUnavailable(BotError):
    pass


class StorageError(BotError):
    pass


class EndpointNotAllowed(BotError):
    pass


class EndpointError(BotError):
    """The model endpoint failed; `hint` tells the user what to try."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.hint = hint


class EndpointUnreachable(EndpointError):
    pass


class EndpointTimeout(EndpointError):
    def __init__(self, message: str, *, phase: str, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.phase = phase


class EndpointRejected(EndpointError):
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
    pass


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
