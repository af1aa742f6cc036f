"""Who is asking, in Parlor's terms: Telegram chat roles become a Permission.

Asked fresh from Telegram (getChatMember) each time a group command runs, so a demoted
admin loses their rights at once. In a private chat the user is the chat's only admin.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import Bot, ChatMemberAdministrator, ChatMemberOwner, Message
from telegram.error import TelegramError

from bot.core.domain import ChannelKey, Permission
from bot.core.server_access import ServerRules
from bot.platforms.common.access import Refusal, narrowed

_log = logging.getLogger(__name__)


def is_anonymous_admin(message: Message) -> bool:
    """A group admin posting as the group: Telegram hides who they are, so we cannot ask
    about their rights; they may run channel commands but never touch connections or keys."""
    sender = message.sender_chat
    return sender is not None and sender.id == message.chat.id


async def permission_of(
    bot: Bot, chat_id: int, user_id: int, *, operators: frozenset[int] = frozenset()
) -> Permission:
    """The rights of `user_id` in `chat`, as the command catalogue counts them.

    A group's owner, and its admins who may change the group's info, are its server admins
    (a Telegram group is its own server); other admins and members may only chat.
    """
    if user_id in operators:
        return Permission.OPERATOR
    if chat_id > 0:  # a private chat: its id is the user's
        return Permission.SERVER_ADMIN
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramError as exc:
        _log.warning("could not ask Telegram about a member's rights (%s)", exc)
        return Permission.EVERYONE
    if isinstance(member, ChatMemberOwner):
        return Permission.SERVER_ADMIN
    if isinstance(member, ChatMemberAdministrator) and member.can_change_info:
        return Permission.SERVER_ADMIN
    return Permission.EVERYONE


RulesOf = Callable[[ChannelKey, str | None], Awaitable[ServerRules]]
"""The group's own /access rules for a chat or topic (the service's `server_rules`)."""


async def group_refusal(
    rules_of: RulesOf,
    channel: ChannelKey,
    server: str | None,
    rights: Callable[[], Awaitable[Permission]],
) -> Refusal | None:
    """Whether the group's own rules keep someone away from this topic. Telegram gives the
    bot no roles, so only topics narrow; the group's admins (and the bot's operators) always
    pass. `rights` is asked only when a rule would refuse: it is a call to Telegram."""
    if server is None:
        return None
    rules = await rules_of(channel, server)
    refusal = None if rules.empty else narrowed(rules, channel, frozenset())
    if refusal is None or await rights() >= Permission.SERVER_ADMIN:
        return None
    return refusal
