"""The conversation that takes an API key: refused in a group, taken in a private chat.

A key typed in a group is deleted if the bot can, the group is told to revoke it, and
nothing is stored, not even the rest of that /connect. The admin gets a link instead;
in the private chat it opens, their rights in the group are checked again, and the next
message is the key: deleted at once, stored encrypted, confirmed only masked.

The private half works even where the operator turned private chats off (or left the
private chat off TELEGRAM_ALLOWED_CHATS): a link is only handed out in a group the bot
serves, to an admin it serves, and finishing it privately is the only safe way to give
a key. The adapter waives those refusals for `/start <token>` and the awaited key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from telegram import Bot, Message
from telegram.error import TelegramError

from bot.core.domain import Actor, ChannelKey, CommandCall, Permission
from bot.core.errors import StorageError
from bot.core.ports import Conversations
from bot.platforms.telegram.access import is_anonymous_admin, permission_of
from bot.platforms.telegram.keys import KeyLinks, KeyRequest, plausible_key, without_secrets

_log = logging.getLogger(__name__)

Say = Callable[[Message, str], Awaitable[None]]
"""Answers in the chat (and forum topic) of the message."""

LINK_GONE = (
    "That link has expired, was used already, or was made for someone else. Run /connect "
    "in the group again for a new one."
)
LINK_UNREADABLE = "I couldn't reach my database to read that link; open it again in a moment."
NO_LONGER_ADMIN = (
    "You can't change {title}'s connection any more (it needs an admin who may change the "
    "group's info), so I did not take a key."
)


class KeyFlow:
    """Takes API keys privately: offers a link in a group, receives the key in private,
    and refuses keys sent where they must not be."""

    def __init__(
        self,
        bot: Bot,
        service: Conversations,
        links: KeyLinks,
        say: Say,
        *,
        operators: frozenset[int],
    ) -> None:
        self._bot = bot
        self._service = service
        self._links = links
        self._say = say
        self._operators = operators

    def link(self, token: str) -> str:
        return f"https://t.me/{self._bot.username}?start={token}"

    async def offer(
        self, message: Message, channel: ChannelKey, options: Mapping[str, str]
    ) -> str | None:
        """A link that lets this message's sender finish `options` privately, with a key;
        None where there is no one to give it to, or the database did not keep it."""
        user = message.from_user
        if user is None or is_anonymous_admin(message):
            return None
        request = KeyRequest(
            user_id=user.id,
            group_id=message.chat.id,
            group_title=message.chat.title or "the group",
            channel=channel,
            options=without_secrets(options),
        )
        try:
            return self.link(await self._links.issue(request))
        except StorageError as exc:
            _log.warning("telegram: could not keep a key link (%s)", exc)
            return None

    async def refuse_in_group(
        self, message: Message, command: str, channel: ChannelKey, options: Mapping[str, str]
    ) -> None:
        """A key in a group: deleted, the group told to revoke it, nothing stored. Only a
        /connect can be finished privately (a profile's or extra header's key cannot)."""
        deleted = await self.delete(message)
        what = (
            "I deleted that message"
            if deleted
            else "I could not delete that message (I need the right to delete messages), "
            "so please delete it"
        )
        text = (
            f"⚠️ API keys must never be posted in a group: {what}, and I saved nothing. "
            "Everyone here may have seen the key, so revoke it at your provider and make a "
            "new one."
        )
        user = message.from_user
        rights = Permission.EVERYONE
        if user is not None and not is_anonymous_admin(message):
            rights = await permission_of(
                self._bot, message.chat.id, user.id, operators=self._operators
            )
        if rights >= Permission.SERVER_ADMIN and command == "connect":
            link = await self.offer(message, channel, options)
            if link is not None:
                text += f"\n\nThen send the new key to me privately: {link} (one use, yours only)."
        await self._say(message, text)

    async def start(self, message: Message, token: str) -> None:
        """`/start <token>` in a private chat: check again, then wait for the key."""
        user = message.from_user
        if user is None:
            return
        try:
            request = await self._links.open(token, user.id)
        except StorageError:
            await self._say(message, LINK_UNREADABLE)
            return
        if request is None:
            await self._say(message, LINK_GONE)
            return
        # Armed before the check, so a key pasted while Telegram answers is still caught.
        await self._links.await_key(request)
        if not await self._still_admin(request):
            await self._links.take_waiting(user.id)
            await self._say(message, NO_LONGER_ADMIN.format(title=request.group_title))
            return
        await self._say(
            message,
            f"Send me the API key for {request.group_title} as your next message. I'll delete "
            "that message as soon as I have read it, and show the key only masked.",
        )

    async def expects_key(self, user_id: int) -> bool:
        """Whether `user_id`'s next private message is the key a link asked for."""
        return await self._links.waiting(user_id)

    async def receive(self, message: Message) -> bool:
        """Whether this private message was the key someone was asked for (and is handled).
        A database that cannot be read raises: the message is then neither taken as a key
        nor passed to the model (failing closed)."""
        user = message.from_user
        if user is None or message.chat.id <= 0:
            return False
        # A read first: most private messages are not a key, and a take is a write.
        if not await self._links.waiting(user.id):
            return False
        request = await self._links.take_waiting(user.id)
        if request is None:
            return False
        key = (message.text or "").strip()
        await self.delete(message)
        if not plausible_key(key):
            await self._say(
                message,
                "That doesn't look like an API key (one word of 8 to 512 characters), so I "
                "saved nothing. Run /connect in the group again for a new link.",
            )
            return True
        if not await self._still_admin(request):
            await self._say(message, NO_LONGER_ADMIN.format(title=request.group_title))
            return True
        actor = Actor(str(user.id), user.full_name, Permission.SERVER_ADMIN)
        options = {**request.options, "api_key": key}
        call = CommandCall("connect", options, request.channel, actor, server=str(request.group_id))
        result = await self._service.run_command(call)
        await self._say(message, f"{request.group_title}: {result.text}")
        return True

    async def refuse_stray(self, message: Message) -> None:
        """Something shaped like a key outside the flow: deleted where possible, never passed
        to the model, and the sender told how to give a key safely."""
        deleted = await self.delete(message)
        where = "deleted it and " if deleted else ""
        if message.chat.id < 0:
            text = (
                f"⚠️ That message looked like an API key, so I {where}did not pass it on. "
                "Everyone here may have seen it: revoke it at your provider. Admins can run "
                "/connect here for a private link to send a new one."
            )
        else:
            text = (
                f"That looked like an API key, so I {where}did not pass it to the model. "
                "To use it for this chat: /connect base_url:… api_key:…. For a group, run "
                "/connect in the group for a private link."
            )
        await self._say(message, text)

    async def _still_admin(self, request: KeyRequest) -> bool:
        rights = await permission_of(
            self._bot, request.group_id, request.user_id, operators=self._operators
        )
        return rights >= Permission.SERVER_ADMIN

    async def delete(self, message: Message) -> bool:
        """Take a message carrying a key off the screen; False if the bot may not."""
        try:
            return await self._bot.delete_message(message.chat.id, message.message_id)
        except TelegramError as exc:
            _log.warning("could not delete a message carrying a key (%s)", type(exc).__name__)
            return False
