"""A Replier on one Discord channel or thread: a placeholder, then paced edits.

The reply goes out through the channel's webhook under the character's name and avatar
when there is a character and the bot may manage webhooks; otherwise as the bot, with
the character's name in bold at the head of the first message. Either way mentions are
off, so model output that says @everyone pings nobody.

discord.py sleeps inside a request when a bucket runs dry or Discord answers 429; that
happens in the stream's editor task, never in the token loop, and the channel's budget
(5 writes in 5 s) keeps it rare.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
import discord

from bot.core.domain import MessageRef, PlatformLimits
from bot.core.errors import DeliveryError
from bot.core.ports import Clock
from bot.platforms.common.background import meanwhile
from bot.platforms.common.heading import room_under, speaker_heading
from bot.platforms.discord import buttons
from bot.platforms.discord.delivery import delivery_error_text, is_gone, retry_after
from bot.platforms.discord.places import Channel
from bot.reply.pacing import ChannelBudget, write_paced

_log = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 2000
LIMITS = PlatformLimits(max_length=MAX_MESSAGE_CHARS, writes_per_window=5, window_seconds=5.0)
"""Discord's content limit for bots and webhooks, and the ~5 writes per 5 s a channel gets
(sends and edits share it)."""
TYPING_REFRESH_SECONDS = 8.0
"""Discord shows typing for 10 s after each signal."""
_NO_MENTIONS = discord.AllowedMentions.none()
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class Voice:
    """Who a reply speaks as: a character through a webhook, or the bot (name in bold)."""

    name: str | None = None
    webhook: discord.Webhook | None = None

    @property
    def heading(self) -> str:
        """The name in bold, where the bot speaks as itself; a webhook wears the name."""
        return speaker_heading(self.name) if self.webhook is None else ""


class DiscordReplier:
    """Writes one reply in a channel, as the character's webhook or as the bot (a Replier)."""

    def __init__(
        self,
        channel: Channel,
        *,
        voice: Voice,
        budget: ChannelBudget,
        clock: Clock,
        thread: discord.abc.Snowflake | None = None,
        reply_to: discord.Message | None = None,
        on_webhook_gone: Callable[[], None] | None = None,
    ) -> None:
        """`thread` is the thread a webhook posts into (webhooks belong to its parent);
        `reply_to` the message answered (only the bot can reply; a webhook cannot)."""
        self._channel = channel
        self._voice = voice
        self._budget = budget
        self._clock = clock
        self._thread = thread
        self._reply_to = reply_to
        self._on_webhook_gone = on_webhook_gone
        self._heading = voice.heading  # fixed: the stream's limits were read with it
        self._sent: dict[MessageRef, int] = {}  # ref -> Discord message id, in order

    @property
    def limits(self) -> PlatformLimits:
        return room_under(self._heading, LIMITS)

    @property
    def message_ids(self) -> list[int]:
        return list(self._sent.values())

    async def send(self, text: str) -> MessageRef:
        heading = self._heading if not self._sent else ""
        try:
            message_id = await self._deliver("sending the reply", self._post, heading + text)
        except _Gone:
            raise DeliveryError("Discord refused sending the reply: the channel is gone") from None
        ref = MessageRef(str(message_id))
        self._sent[ref] = message_id
        return ref

    async def edit(self, ref: MessageRef, text: str) -> None:
        message_id = self._sent[ref]
        first = next(iter(self._sent)) == ref
        content = (self._heading if first else "") + text
        try:
            await self._deliver("editing the reply", self._patch, message_id, {"content": content})
        except _Gone:  # deleted mid-stream: carry on in a new message
            try:
                self._sent[ref] = await self._deliver("sending the reply", self._post, content)
            except _Gone:
                raise DeliveryError("Discord refused the reply: the channel is gone") from None

    async def delete(self, ref: MessageRef) -> None:
        message_id = self._sent.pop(ref, None)
        if message_id is None:
            return
        with contextlib.suppress(_Gone):
            await self._deliver("deleting a message", self._remove, message_id)

    def typing(self) -> AbstractAsyncContextManager[None]:
        """ "… is typing" for the whole turn, refreshed before Discord lets it lapse."""
        return meanwhile(self._keep_typing, name="discord-typing")

    async def settle(self, *, finished: bool) -> list[int]:
        """After the turn: Stop leaves every message; a finished reply's last message gets
        Regenerate, the swipes and Continue. Paced like the stream's writes, and retried a
        few times, because a Stop left behind would confuse. Returns the message ids."""
        ids = self.message_ids
        for index, message_id in enumerate(ids):
            last = index == len(ids) - 1
            view = buttons.after_reply() if last and finished else None

            async def change(
                message_id: int = message_id, view: discord.ui.View | None = view
            ) -> None:
                await self._deliver("changing the buttons", self._patch, message_id, {"view": view})

            with contextlib.suppress(_Gone):
                await self._persist(change)
        return ids

    async def _persist(self, write: Callable[[], Awaitable[None]]) -> None:
        await write_paced(write, budget=self._budget, clock=self._clock, retry_failures=True)

    async def _keep_typing(self) -> None:
        while True:
            with contextlib.suppress(discord.HTTPException):
                await self._channel.typing()
            await asyncio.sleep(TYPING_REFRESH_SECONDS)

    # The three writes, as the webhook or as the bot

    async def _post(self, content: str) -> int:
        webhook = self._voice.webhook
        if webhook is not None:
            try:
                sent = await webhook.send(
                    content,
                    username=self._voice.name or discord.utils.MISSING,
                    wait=True,
                    view=buttons.while_streaming(),
                    thread=self._thread or discord.utils.MISSING,
                    allowed_mentions=_NO_MENTIONS,
                )
            except discord.NotFound:
                self._lose_webhook()
            else:
                return sent.id
        reference = self._reply_to if not self._sent else None
        message = await self._channel.send(
            content,
            view=buttons.while_streaming(),
            reference=reference,  # type: ignore[arg-type]
            mention_author=False,
            allowed_mentions=_NO_MENTIONS,
        )
        return message.id

    async def _patch(self, message_id: int, changes: dict[str, Any]) -> None:
        webhook = self._voice.webhook
        if webhook is not None:
            thread = self._thread or discord.utils.MISSING
            await webhook.edit_message(message_id, thread=thread, **changes)
        else:
            await self._partial(message_id).edit(**changes)

    async def _remove(self, message_id: int) -> None:
        webhook = self._voice.webhook
        if webhook is not None:
            await webhook.delete_message(message_id, thread=self._thread or discord.utils.MISSING)
        else:
            await self._partial(message_id).delete()

    def _partial(self, message_id: int) -> discord.PartialMessage:
        return self._channel.get_partial_message(message_id)

    def _lose_webhook(self) -> None:
        """The webhook was deleted: speak as the bot from now on (unheaded: the length
        limit the stream works to has no room for the name)."""
        _log.warning("discord: the channel's webhook is gone; replying as the bot")
        self._voice = Voice(self._voice.name, None)
        if self._on_webhook_gone is not None:
            self._on_webhook_gone()

    async def _deliver(self, doing: str, write: Callable[..., Awaitable[_T]], *args: Any) -> _T:
        """The write's result; discord.py's errors as DeliveryError (or _Gone)."""
        try:
            return await write(*args)
        except discord.RateLimited as exc:
            slow = f"Discord asked us to slow down while {doing}"
            raise DeliveryError(slow, retry_after=exc.retry_after) from None
        except discord.HTTPException as exc:
            if is_gone(exc):
                raise _Gone from None
            text = delivery_error_text(exc, doing)
            raise DeliveryError(text, retry_after=retry_after(exc)) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:  # the network, or shutdown
            unreachable = f"Discord could not be reached while {doing} ({type(exc).__name__})"
            raise DeliveryError(unreachable) from None
        except RuntimeError as exc:  # aiohttp's "Session is closed": a shutdown overtook us
            if "closed" not in str(exc):
                raise
            raise DeliveryError(f"the bot was shutting down while {doing}") from None


class _Gone(Exception):
    """The message to change no longer exists."""
