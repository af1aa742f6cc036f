"""Which messages are for the bot, and what they say once the mention is taken out.

The bot answers a mention of itself, a reply to one of its messages or to a character's
(sent through our webhook), DMs when the operator allows them, and, in channels set to
answer everything, every message. Messages from bots and webhooks are never answered,
so two bots cannot talk each other into a loop.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import discord

_USER_MENTION = re.compile(r"<@!?(\d+)>")


def from_a_person(message: discord.Message) -> bool:
    return not message.author.bot and message.webhook_id is None and not message.is_system()


def mentions_me(message: discord.Message, me: discord.abc.User) -> bool:
    return any(user.id == me.id for user in message.mentions)


async def replies_to_me(
    message: discord.Message,
    me: discord.abc.User,
    is_our_webhook: Callable[[discord.Message], Awaitable[bool]],
) -> bool:
    """A reply to the bot's own message or to a character's (one of our webhooks)."""
    reference = message.reference
    if reference is None:
        return False
    replied = reference.resolved or reference.cached_message
    if not isinstance(replied, discord.Message):
        return False
    if replied.author.id == me.id:
        return True
    return replied.webhook_id is not None and await is_our_webhook(replied)


def text_of(message: discord.Message, me: discord.abc.User) -> str:
    """The message without the bot's mention; other people's mentions become @names, which
    is what a reader sees and what the model can make sense of."""
    names = {user.id: user.display_name for user in message.mentions}

    def readable(match: re.Match[str]) -> str:
        user_id = int(match.group(1))
        if user_id == me.id:
            return ""
        return f"@{names.get(user_id, 'someone')}"

    return _USER_MENTION.sub(readable, message.content).strip()
