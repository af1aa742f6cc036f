"""A Replier on one Telegram chat (or forum topic): send-and-edit, or native drafts.

The stream hands us Markdown; Telegram gets plain text plus entities (render.py). Two
ways to show a reply growing:

- **send and edit** (groups, and private chats where drafts fail): there is no placeholder
  message (our limits say so), the typing action stands in for it until the first words
  exist; then a message is sent and edited. An edit whose rendering matches what the message already
  shows is never sent, so Telegram never sees the same text twice in a row.
- **drafts** (private chats, drafts.py): `sendMessageDraft` animates the reply in place, and
  `close` turns each finished draft into a real message, as the Bot API requires. When a draft
  call is refused, the replier falls back to send and edit for the rest of the reply and
  tells its owner, so the chat is not asked again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TypeVar

from telegram import Bot, InlineKeyboardMarkup, LinkPreviewOptions, Message, ReplyParameters
from telegram.constants import ChatAction
from telegram.error import TelegramError

from bot.core.domain import MessageRef, PlatformLimits, count_utf16_units
from bot.core.errors import DeliveryError
from bot.core.ports import Clock
from bot.platforms.common.background import meanwhile
from bot.platforms.common.heading import room_under, speaker_heading
from bot.platforms.telegram.buttons import AFTER_REPLY
from bot.platforms.telegram.delivery import (
    delivery_error,
    is_gone,
    is_not_modified,
    is_unparsable,
)
from bot.platforms.telegram.drafts import Drafts
from bot.platforms.telegram.render import MAX_MESSAGE_UTF16, Rendered, plain, render
from bot.reply.pacing import ChannelBudget, write_paced

_log = logging.getLogger(__name__)

GROUP_LIMITS = PlatformLimits(
    max_length=MAX_MESSAGE_UTF16,
    writes_per_window=20,
    window_seconds=60.0,
    measure=count_utf16_units,
    placeholder=False,
)
"""Telegram's "20 messages per minute to the same group"; edits count as messages."""
PRIVATE_LIMITS = PlatformLimits(
    max_length=MAX_MESSAGE_UTF16,
    writes_per_window=1,
    window_seconds=1.0,
    measure=count_utf16_units,
    placeholder=False,
)
"""About one write per second in a private chat, drafts included: the fallback to send and
edit must fit the same budget, and the budget of a chat is fixed when first used."""
TYPING_REFRESH_SECONDS = 4.5
"""Telegram shows a chat action for at most 5 s."""
_NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Place:
    """Where replies go: the chat, the forum topic, and the message they answer."""

    chat_id: int
    thread_id: int | None = None
    reply_to: int | None = None

    @property
    def in_group(self) -> bool:
        """A group, supergroup or channel (Telegram gives them negative ids), not a private
        chat (whose id is the user's): it shares profiles and characters, its replies name
        who speaks, and it has a group's write limits and no drafts."""
        return self.chat_id < 0

    @property
    def limits(self) -> PlatformLimits:
        """The chat's write limits: a group's are far stricter than a private chat's."""
        return GROUP_LIMITS if self.in_group else PRIVATE_LIMITS


class TelegramReplier:
    """Writes one reply in a chat, by drafts or by sending and editing (a Replier)."""

    def __init__(
        self,
        bot: Bot,
        place: Place,
        *,
        drafts: bool,
        budget: ChannelBudget,
        clock: Clock,
        keyboard: InlineKeyboardMarkup | None = None,
        on_drafts_refused: Callable[[], Awaitable[None]] | None = None,
        speaker: str | None = None,
        on_sent: Callable[[int], None] | None = None,
    ) -> None:
        """`budget` is the chat's: the stream spends it for its own writes; this replier
        spends it for the writes it adds (settling drafts, changing buttons)."""
        self._bot = bot
        self._place = place
        self._drafts = Drafts(
            bot, place.chat_id, place.thread_id, on=drafts, on_refused=on_drafts_refused
        )
        self._budget = budget
        self._clock = clock
        self._keyboard = keyboard  # shown while the reply streams (the Stop button)
        self._on_sent = on_sent  # told each new real message's id
        # In groups the character's name heads the reply's first message.
        self._heading = speaker_heading(speaker)
        self._shown: dict[MessageRef, Rendered] = {}
        self._real: dict[MessageRef, int] = {}  # our ref -> Telegram message id
        self._tried: dict[MessageRef, Rendered] = {}  # differs from shown after a fallback
        self._ids = (MessageRef(f"t{n}") for n in itertools.count(1))
        self._texted = asyncio.Event()  # real words are on screen: typing may stop

    @property
    def limits(self) -> PlatformLimits:
        return room_under(self._heading, self._place.limits)

    @property
    def message_ids(self) -> list[int]:
        """The Telegram ids of the real messages this reply occupies, in order."""
        return list(self._real.values())

    async def send(self, text: str) -> MessageRef:
        ref = next(self._ids)
        await self._settle_drafts()
        await self._write(ref, text)
        return ref

    async def edit(self, ref: MessageRef, text: str) -> None:
        await self._write(ref, text)

    async def delete(self, ref: MessageRef) -> None:
        message_id = self._real.pop(ref, None)
        self._drafts.forget(ref)
        if message_id is None:
            return
        try:
            await self._bot.delete_message(self._place.chat_id, message_id)
        except TelegramError as exc:
            if not is_gone(exc):
                raise delivery_error(exc, "deleting a message") from None

    def typing(self) -> AbstractAsyncContextManager[None]:
        """The typing action until the first words are shown (it is cleared by them)."""
        return meanwhile(self._keep_typing, name="telegram-typing")

    async def settle(self, *, finished: bool) -> list[int]:
        """After the turn: Stop goes, and a finished reply gets Regenerate, the swipes and
        Continue under its last message."""
        return await self.close(AFTER_REPLY if finished else None)

    async def close(self, keyboard: InlineKeyboardMarkup | None) -> list[int]:
        """After the turn: drafts become real messages, and the last one gets `keyboard`
        (Regenerate, swipes, Continue) in place of Stop. Returns the real message ids."""
        had_drafts = bool(self._drafts.unsettled(self._real))
        await self._settle_drafts(last_keyboard=keyboard)
        if not had_drafts and self._real and (keyboard is not None or self._keyboard is not None):
            last = self._real[next(reversed(self._real))]

            async def change_buttons() -> None:
                try:
                    await self._bot.edit_message_reply_markup(
                        self._place.chat_id, last, reply_markup=keyboard
                    )
                except TelegramError as exc:
                    if not (is_not_modified(exc) or is_gone(exc)):
                        raise delivery_error(exc, "changing the buttons") from None

            await self._persist(change_buttons)
        return self.message_ids

    async def _persist(self, write: Callable[[], Awaitable[None]]) -> None:
        await write_paced(write, budget=self._budget, clock=self._clock, retry_failures=True)

    async def _keep_typing(self) -> None:
        while not self._texted.is_set():
            with contextlib.suppress(TelegramError):
                await self._bot.send_chat_action(
                    self._place.chat_id, ChatAction.TYPING, message_thread_id=self._place.thread_id
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._texted.wait(), TYPING_REFRESH_SECONDS)

    async def _write(self, ref: MessageRef, text: str) -> None:
        first = not self._shown or next(iter(self._shown)) == ref
        rendered = render(self._heading + text if first else text)
        if rendered in (self._shown.get(ref), self._tried.get(ref)):
            return  # same as on screen (or as last tried): Telegram would say "not modified"
        self._tried[ref] = rendered
        if self._drafts.on and await self._drafts.show(ref, rendered):
            self._shown[ref] = rendered
            self._texted.set()
            return
        if ref in self._real:
            await self._edit_real(ref, rendered)
        else:
            await self._send_real(ref, rendered, self._keyboard)
        self._texted.set()

    async def _settle_drafts(self, last_keyboard: InlineKeyboardMarkup | None = None) -> None:
        """Through the chat's budget, retried like the stream's final write."""

        async def settle(
            ref: MessageRef, shown: Rendered, keyboard: InlineKeyboardMarkup | None
        ) -> None:
            await self._persist(lambda: self._send_real(ref, shown, keyboard))

        await self._drafts.settle(self._shown, self._real, settle, last_keyboard=last_keyboard)

    async def _send_real(
        self, ref: MessageRef, rendered: Rendered, keyboard: InlineKeyboardMarkup | None
    ) -> None:
        place = self._place
        reply = (
            ReplyParameters(place.reply_to, allow_sending_without_reply=True)
            if place.reply_to is not None and not self._real
            else None
        )

        def send(shown: Rendered) -> Awaitable[Message]:
            return self._bot.send_message(
                place.chat_id,
                shown.text,
                entities=list(shown.entities),
                message_thread_id=place.thread_id,
                reply_parameters=reply,
                reply_markup=keyboard,
                link_preview_options=_NO_PREVIEW,
            )

        try:
            message = await self._with_plain_fallback(ref, send, rendered, "sending the reply")
        except _Gone:  # the message we answer is gone; allow_sending_without_reply covers it
            raise DeliveryError("Telegram refused sending the reply") from None
        if message is not None:
            self._real[ref] = message.message_id
            if self._on_sent is not None:
                self._on_sent(message.message_id)

    async def _edit_real(self, ref: MessageRef, rendered: Rendered) -> None:
        place = self._place

        def edit(shown: Rendered) -> Awaitable[Message | bool]:
            return self._bot.edit_message_text(
                shown.text,
                place.chat_id,
                self._real[ref],
                entities=list(shown.entities),
                reply_markup=self._keyboard,
                link_preview_options=_NO_PREVIEW,
            )

        try:
            await self._with_plain_fallback(ref, edit, rendered, "editing the reply")
        except _Gone:
            # Someone deleted the message mid-stream: carry on in a new one.
            del self._real[ref]
            await self._send_real(ref, rendered, self._keyboard)

    async def _with_plain_fallback(
        self,
        ref: MessageRef,
        call: Callable[[Rendered], Awaitable[_T]],
        rendered: Rendered,
        doing: str,
    ) -> _T | None:
        """Telegram's answer to `call(rendered)`, retried once as plain text when it cannot
        parse the entities: text that cannot be rendered is sent plain, not lost. What went
        out is remembered as shown, so no later write repeats it."""
        try:
            answer = await call(rendered)
        except TelegramError as exc:
            if is_not_modified(exc):
                self._shown[ref] = rendered
                return None
            if is_gone(exc):
                raise _Gone from None
            if not is_unparsable(exc):
                raise delivery_error(exc, doing) from None
            _log.warning("Telegram could not parse our entities; sending plain text")
        else:
            self._shown[ref] = rendered
            return answer
        fallback = plain(rendered.text)
        if self._shown.get(ref) == fallback:
            return None
        try:
            answer = await call(fallback)
        except TelegramError as exc:
            raise delivery_error(exc, doing) from None
        self._shown[ref] = fallback
        return answer


class _Gone(Exception):
    """The message to edit no longer exists."""


__all__ = ["GROUP_LIMITS", "PRIVATE_LIMITS", "DeliveryError", "Place", "TelegramReplier"]
