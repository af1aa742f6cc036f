"""A reply's native drafts in a private chat (`sendMessageDraft`): shown, then settled
into real messages, as the Bot API requires. Kept apart from the replier's send and edit;
when a draft is refused, drafts go off for the rest of the reply and the owner is told.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Container, Mapping

from telegram import Bot, InlineKeyboardMarkup
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.core.domain import MessageRef
from bot.platforms.telegram.delivery import delivery_error
from bot.platforms.telegram.render import Rendered

_log = logging.getLogger(__name__)

STOPPABLE = {"can_stop": True}
"""Bot API 10.3: the draft shows a Stop button; a tap sends "stopped_message_generation"."""
_draft_ids = itertools.count(1)

Settle = Callable[[MessageRef, Rendered, InlineKeyboardMarkup | None], Awaitable[None]]
"""Sends a draft's last state as a real message, with the keyboard to put under it."""


class Drafts:
    """The drafts of one reply in one chat, until each is settled into a real message."""

    def __init__(
        self,
        bot: Bot,
        chat_id: int,
        thread_id: int | None,
        *,
        on: bool,
        on_refused: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._bot = bot
        self._chat_id = chat_id
        self._thread_id = thread_id
        self.on = on
        """False from the start (groups, chats that refused them) or once refused."""
        self._on_refused = on_refused
        self._ids: dict[MessageRef, int] = {}  # our ref -> its draft id

    async def show(self, ref: MessageRef, rendered: Rendered) -> bool:
        """Show `rendered` as a draft; False when drafts are refused (and are now off).
        A flood wait or a timeout is raised as DeliveryError, and drafts stay on."""
        draft_id = self._ids.setdefault(ref, next(_draft_ids))
        try:
            await self._bot.send_message_draft(
                self._chat_id,
                draft_id,
                text=rendered.text,
                entities=list(rendered.entities),
                message_thread_id=self._thread_id,
                api_kwargs=STOPPABLE,  # PTB has no parameter for it yet
            )
        except (BadRequest, Forbidden) as exc:
            _log.warning("drafts refused in a private chat (%s); sending and editing", exc)
            self.on = False
            self._ids.pop(ref, None)
            if self._on_refused is not None:
                await self._on_refused()
            return False
        except TelegramError as exc:  # a flood wait, a timeout: try again, drafts stay on
            raise delivery_error(exc, "updating the draft") from None
        return True

    def unsettled(self, real: Container[MessageRef]) -> list[MessageRef]:
        """The drafts not yet real messages (`real`), in the order they began."""
        return [ref for ref in self._ids if ref not in real]

    def forget(self, ref: MessageRef) -> None:
        self._ids.pop(ref, None)

    async def settle(
        self,
        shown: Mapping[MessageRef, Rendered],
        real: Container[MessageRef],
        send: Settle,
        *,
        last_keyboard: InlineKeyboardMarkup | None = None,
    ) -> None:
        """Each draft's last state (`shown`) as a real message (a draft is a 30-second
        preview); only the last gets `last_keyboard`."""
        pending = [ref for ref in self.unsettled(real) if ref in shown]
        for index, ref in enumerate(pending):
            keyboard = last_keyboard if index == len(pending) - 1 else None
            await send(ref, shown[ref], keyboard)
            self._ids.pop(ref)
