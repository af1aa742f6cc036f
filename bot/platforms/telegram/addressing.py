"""Which messages are for the bot, and where its answer goes.

In a private chat every message is. In a group: a mention of the bot, a reply to one of
its messages, or a command (`/cmd`, or `/cmd@thisbot`, never `/cmd@otherbot`).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Chat, Message

from bot.platforms.telegram.replier import Place


@dataclass(frozen=True, slots=True)
class Me:
    """The bot as Telegram knows it (getMe)."""

    id: int
    username: str

    @property
    def mention(self) -> str:
        return f"@{self.username}"

    def addressed(self, message: Message) -> bool:
        if message.chat.type == Chat.PRIVATE:
            return True
        replied = message.reply_to_message
        sender = replied.from_user if replied is not None else None
        if sender is not None and sender.id == self.id:
            return True
        return self.mention.lower() in (message.text or message.caption or "").lower()

    def commands_me(self, line: str) -> bool:
        head = line.split(maxsplit=1)[0] if line.split() else ""
        _, at, target = head.partition("@")
        return not at or target.lower() == self.username.lower()

    def without_mention(self, text: str) -> str:
        lowered, mention = text.lower(), self.mention.lower()
        while (index := lowered.find(mention)) >= 0:
            text = text[:index] + text[index + len(mention) :]
            lowered = text.lower()
        return text


def place_of(message: Message, *, quote: bool = True) -> Place:
    """Where the answer to `message` goes; in groups it quotes the message it answers."""
    thread = message.message_thread_id if message.is_topic_message else None
    group = message.chat.type != Chat.PRIVATE
    reply_to = message.message_id if group and quote else None
    return Place(message.chat.id, thread, reply_to)
