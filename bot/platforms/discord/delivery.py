"""discord.py's errors, in the terms the reply stream understands (DeliveryError)."""

from __future__ import annotations

import discord

UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015


def delivery_error_text(exc: discord.HTTPException, doing: str) -> str:
    """A log-safe description: Discord's status and code, never the request."""
    if isinstance(exc, discord.Forbidden):
        return f"Discord refused {doing}: the bot lacks a permission here ({exc.code})"
    if exc.status == 429:
        return f"Discord asked us to slow down while {doing}"
    if exc.status >= 500:
        return f"Discord failed while {doing} (HTTP {exc.status})"
    return f"Discord refused {doing} (HTTP {exc.status}, code {exc.code})"


def retry_after(exc: discord.HTTPException) -> float | None:
    """The wait Discord asked for, when it still answered 429 after discord.py's own
    retries (or any wait header it sent)."""
    if exc.status != 429:
        return None
    header = exc.response.headers.get("Retry-After") if exc.response is not None else None
    try:
        return float(header) if header is not None else 1.0
    except ValueError:
        return 1.0


def is_gone(exc: discord.HTTPException) -> bool:
    """The message (or the webhook) no longer exists: someone deleted it."""
    return isinstance(exc, discord.NotFound) or exc.code in (UNKNOWN_MESSAGE, UNKNOWN_WEBHOOK)
