"""Telegram's two ways of getting updates, as python-telegram-bot sees them: the webhook
(set only when Telegram's current one differs, updates parsed and queued for the
Application) and the look before polling (a webhook still set is said, then removed).

Knows PTB and the Bot API; the HTTP side of the webhook (secret header, body cap) is the
listener's, reached only through the `UpdateReceiver` protocol.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

from telegram import Bot, Update, WebhookInfo
from telegram.error import BadRequest, NetworkError, TelegramError

from bot.core.errors import PlatformRefused, StorageError
from bot.core.shared_state import SharedState

_log = logging.getLogger(__name__)

REFUSED_BY_US = "403"
"""In getWebhookInfo's last_error_message ("Wrong response from the webhook: 403
Forbidden"): what our listener answers when Telegram holds another secret than ours, which
getWebhookInfo itself never shows."""


class UpdateReceiver(Protocol):
    """Where the listener hands each webhook update (bot.web.webhook.WebhookReceiver)."""

    def attach(self, sink: Callable[[Mapping[str, object]], None] | None) -> None: ...


@dataclass(frozen=True, slots=True)
class Webhook:
    """Webhook mode: the public URL Telegram posts to, the secret it sends back in its
    header, and the receiver on our listener that the updates arrive at."""

    url: str
    secret: str = field(repr=False)
    receiver: UpdateReceiver


def needs_setting(info: WebhookInfo, url: str, allowed_updates: Sequence[str]) -> bool:
    """Whether Telegram's webhook is not already ours: another URL, other update kinds, or
    a recent 403 from us (Telegram holds a secret we no longer have).

    Asked first so that N workers starting together each see the one already set, instead
    of calling setWebhook N times (Telegram answers a burst of them with 429)."""
    if info.url != url:
        return True
    if set(info.allowed_updates or ()) != set(allowed_updates):
        return True
    return REFUSED_BY_US in (info.last_error_message or "")


async def set_webhook(bot: Bot, webhook: Webhook, allowed_updates: Sequence[str]) -> None:
    """Make Telegram post updates to `webhook.url`, keeping what is queued there.

    A refusal (not https, a port Telegram does not allow, a host it cannot resolve) becomes
    PlatformRefused naming TELEGRAM_WEBHOOK_URL, for the process to end with that line."""
    try:
        info = await bot.get_webhook_info()
        if not needs_setting(info, webhook.url, allowed_updates):
            _log.info("telegram: the webhook is already set to %s", _shown(webhook.url))
            return
        await bot.set_webhook(
            webhook.url,
            secret_token=webhook.secret,
            allowed_updates=list(allowed_updates),
            drop_pending_updates=False,
        )
    except TelegramError as exc:
        # PTB's BadRequest (Telegram's refusal) is a NetworkError too: told apart here.
        if isinstance(exc, NetworkError) and not isinstance(exc, BadRequest):
            raise PlatformRefused(
                f"Could not reach Telegram to set the webhook ({exc.message}): check the "
                "network and TELEGRAM_API_URL, if you set it"
            ) from None
        raise PlatformRefused(
            f"Telegram refused the webhook TELEGRAM_WEBHOOK_URL ({exc.message}): it must be a "
            "public https:// URL on port 443, 80, 88 or 8443 that reaches this listener"
        ) from None
    _log.info("telegram: set the webhook to %s", _shown(webhook.url))


async def leave_webhook(bot: Bot) -> None:
    """Before polling: a webhook still set (switching back from webhook mode, or another
    deployment's) is said in the log. PTB's start_polling then removes it (it always calls
    deleteWebhook, which is a no-op when none is set); the updates queued are kept."""
    try:
        info = await bot.get_webhook_info()
    except TelegramError as exc:  # not worth stopping for: polling removes a webhook anyway
        _log.warning("telegram: could not ask for the webhook before polling (%s)", exc.message)
        return
    if info.url:
        _log.warning(
            "telegram: removing the webhook to %s to poll instead; processes still in "
            "webhook mode on this token get no more updates",
            _shown(info.url),
        )


UPDATE_CLAIM_KIND = "telegram_update"
UPDATE_CLAIM_SECONDS = 26 * 3600.0
"""How long an update id stays claimed: Telegram gives up on an update after 24 hours, so
no copy of it can come later; an hour more for clocks that differ."""

ClaimUpdate = Callable[[int], Awaitable[bool]]
"""Claims an update_id for this process, once across all workers; whether it got it."""


def claiming(state: SharedState, bot_id: int) -> ClaimUpdate:
    """Claims of (bot id, update_id) in the shared state, for a day: every worker on the
    database sees them (update ids are counted per bot, so two bots on one database
    never collide)."""

    async def claim(update_id: int) -> bool:
        key = f"{bot_id}:{update_id}"
        return await state.claim(UPDATE_CLAIM_KIND, key, ttl=UPDATE_CLAIM_SECONDS)

    return claim


def queue_updates(
    bot: Bot, queue: asyncio.Queue[object], *, claim: ClaimUpdate | None = None
) -> Callable[[Mapping[str, object]], None]:
    """The sink the listener hands each update to: parsed by PTB and queued for the
    Application's own loop (which handles updates concurrently), never awaited here.

    With `claim`, an update is queued only once its (bot id, update_id) is claimed: Telegram
    delivers an update again when our 200 is lost on the way, perhaps to another worker,
    and that copy is dropped (the listener has answered it 200 already, so Telegram stops).
    A claim the database cannot make lets the update through: answered twice is better
    than never. Claims run side by side, but each update is queued only after the one
    posted before it, so a chat's messages reach PTB in the order Telegram sent them."""
    claims: set[asyncio.Task[None]] = set()
    last: list[asyncio.Task[None]] = []  # the claim of the update posted last, if any

    async def claimed(update: Update, before: asyncio.Task[None] | None) -> None:
        assert claim is not None
        try:
            first = await claim(update.update_id)
        except StorageError:
            _log.warning(
                "telegram: could not claim update %d; handling it anyway", update.update_id
            )
            first = True
        if before is not None:
            await asyncio.wait({before})  # its outcome is its own: only its turn matters
        if first:
            queue.put_nowait(update)
        else:
            _log.debug("telegram: dropped update %d, delivered again", update.update_id)

    def take(data: Mapping[str, object]) -> None:
        if not isinstance(data.get("update_id"), int):
            raise ValueError("no update_id")  # noqa: TRY004 - the sink says 400 with ValueError
        try:
            update = Update.de_json(dict(data), bot)
        except (AttributeError, KeyError, TypeError, ValueError) as exc:  # PTB's, for a bad shape
            raise ValueError("not a Telegram update") from exc
        if claim is None:
            queue.put_nowait(update)
            return
        before = next((task for task in last if not task.done()), None)
        task = asyncio.create_task(claimed(update, before))
        last[:] = [task]
        claims.add(task)  # held until done: the loop keeps only weak references to tasks
        task.add_done_callback(claims.discard)

    return take


def _shown(url: str) -> str:
    """The URL without its query (which might carry something private) for the log."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
