"""Telegram's refusals that end the process: a token refused at start or revoked later,
and another poller on the same token. Translated here into `PlatformRefused`, whose text
says what to do and never carries the token (PTB puts it in InvalidToken's message).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from http import HTTPStatus

from telegram._utils.types import ODVInput
from telegram.error import InvalidToken, TelegramError
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.core.errors import PlatformRefused

REFUSING_STATUSES = frozenset({401, 403, 404, 409})
"""getUpdates answers that no retry can mend: 401 and 404 a refused token (PTB's
InvalidToken), 403 a bot that may not poll, 409 another poller or a webhook."""
_NO_UPDATES = b'{"ok": true, "result": []}'

ReportFatal = Callable[[PlatformRefused], None]


def refused_at_start(exc: InvalidToken, token: str) -> PlatformRefused:
    """getMe said no (401 or 404): the token is junk, revoked, or cut short."""
    said = str(exc.__cause__ or "").replace(token, "<token>") or "refused"
    return PlatformRefused(
        f"Telegram refused TELEGRAM_TOKEN ({said}): copy the token from @BotFather again"
        " (and check TELEGRAM_API_URL, if you set it)"
    )


def refused_poll(status: int, description: str) -> PlatformRefused:
    """getUpdates said no while running; the text says what the operator can do."""
    said = f"{status} {description}".strip()
    if status == HTTPStatus.CONFLICT:
        return PlatformRefused(
            f"Telegram stopped this bot's polling ({said}): another process is polling with "
            "the same TELEGRAM_TOKEN, or a webhook is set; stop the other one, or give this "
            "bot its own token from @BotFather"
        )
    if status == HTTPStatus.FORBIDDEN:
        return PlatformRefused(
            f"Telegram forbade this bot to poll ({said}): check the bot in @BotFather"
        )
    return PlatformRefused(
        f"Telegram stopped accepting TELEGRAM_TOKEN ({said}): it was revoked or changed; "
        "copy the current token from @BotFather"
    )


class WatchedPolls(HTTPXRequest):
    """PTB's getUpdates request, watched for a refusal that ends the process.

    PTB's polling loop logs a refused token with a traceback and then stops polling,
    leaving a live but deaf process; a 409 it retries forever. So a refusal is reported
    once through `report`, and PTB gets no error to log: the first refused poll is held
    until the updater cancels it on stop, later ones (the updater's last call on stop)
    answer an empty batch at once.
    """

    def __init__(self, report: ReportFatal) -> None:
        super().__init__(connection_pool_size=1)  # what ApplicationBuilder gives getUpdates
        self._report = report
        self._refused = False
        self.stopping = False
        self.failing = False
        """The last poll failed (Telegram unreachable, or refusing): not ready."""

    async def do_request(  # noqa: PLR0917 (PTB's signature, overridden)
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        try:
            status, payload = await super().do_request(
                url,
                method,
                request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except TelegramError:
            self.failing = True
            raise
        self.failing = status >= HTTPStatus.INTERNAL_SERVER_ERROR or status in REFUSING_STATUSES
        if status not in REFUSING_STATUSES:
            return status, payload
        if not self._refused:
            self._refused = True
            self._report(refused_poll(status, _description(payload)))
            if not self.stopping:
                await _forever()  # cancelled by the updater's stop
        return HTTPStatus.OK, _NO_UPDATES


async def _forever() -> None:
    await asyncio.Event().wait()


def _description(payload: bytes) -> str:
    """The Bot API's short `description`; nothing else of a body we did not expect."""
    try:
        body = json.loads(payload)
    except ValueError:
        return ""
    description = body.get("description") if isinstance(body, dict) else None
    return description[:200] if isinstance(description, str) else ""
