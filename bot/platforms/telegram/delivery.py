"""What Telegram's answers mean for delivery: flood waits, harmless 400s, and the rest.

python-telegram-bot raises one exception family for everything; the stream only needs to
know "wait this long", "that was fine after all", or "it failed, here is why" (never with
the bot token or the message text in it).
"""

from __future__ import annotations

import datetime as dtm
import os
import warnings

from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBDeprecationWarning

from bot.core.errors import DeliveryError

PTB_TIMEDELTA = "PTB_TIMEDELTA"
"""The environment switch that makes PTB hand out time periods as timedeltas."""
NOT_MODIFIED = "message is not modified"
NOT_FOUND = ("message to edit not found", "message to delete not found")
CANT_PARSE = "can't parse entities"


def use_timedelta_periods() -> None:
    """Have PTB hand out time periods (a flood wait's retry_after) as timedeltas, the
    behaviour of its next major version; PTB 22 otherwise warns at every flood wait, when it
    builds the RetryAfter. PTB offers no parameter for it, only the PTB_TIMEDELTA switch in
    the environment, read process-wide: so the composition root calls this once. An
    operator's own setting wins."""
    os.environ.setdefault(PTB_TIMEDELTA, "true")


def retry_seconds(exc: RetryAfter) -> float:
    """`retry_after` as seconds, whichever type this PTB release hands out.

    PTB 22 returns an int with a deprecation warning unless PTB_TIMEDELTA is set, and a
    timedelta when it is; we accept both and never let the warning escape.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    if isinstance(value, dtm.timedelta):
        return max(value.total_seconds(), 0.0)
    return max(float(value), 0.0)


def is_not_modified(exc: TelegramError) -> bool:
    return isinstance(exc, BadRequest) and NOT_MODIFIED in exc.message.lower()


def is_gone(exc: TelegramError) -> bool:
    """The message was deleted (by a person, or an admin) before we could edit it."""
    return isinstance(exc, BadRequest) and any(text in exc.message.lower() for text in NOT_FOUND)


def is_unparsable(exc: TelegramError) -> bool:
    return isinstance(exc, BadRequest) and CANT_PARSE in exc.message.lower()


def delivery_error(exc: TelegramError, doing: str) -> DeliveryError:
    """A DeliveryError for the stream; a flood wait carries its retry_after."""
    if isinstance(exc, RetryAfter):
        wait = retry_seconds(exc)
        return DeliveryError(f"Telegram asked us to slow down while {doing}", retry_after=wait)
    if isinstance(exc, Forbidden):
        return DeliveryError(f"Telegram refused {doing}: the bot was blocked or removed")
    if isinstance(exc, TimedOut):
        return DeliveryError(f"Telegram did not answer in time while {doing}")
    return DeliveryError(f"Telegram refused {doing}: {exc.message}")
