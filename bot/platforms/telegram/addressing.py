"""Which messages are for the bot, and where its answer goes.

In a private chat every message is. In a group: a mention of the bot, a reply to one of
its messages, or a command (`/cmd`, or `/cmd@thisbot`, never `/cmd@otherbot`).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Chat, Message, MessageEntity, User

from bot.platforms.telegram.replier import Place

QUOTE_CHARS = 500
"""How much of an answered message is quoted to the model."""


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
        return self.mentioned(message)

    def mentioned(self, message: Message) -> bool:
        """A real mention (Telegram's entity), not a substring: "@parlor_bot_fan" or an
        address like "x@parlor_bot.com" is not one."""
        kinds: list[str | None] = [MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        found = {**message.parse_entities(kinds), **message.parse_caption_entities(kinds)}
        for entity, text in found.items():
            if entity.type == MessageEntity.TEXT_MENTION:
                if entity.user is not None and entity.user.id == self.id:
                    return True
            elif text.lower() == self.mention.lower():
                return True
        return False

    def commands_me(self, line: str) -> bool:
        head = line.split(maxsplit=1)[0] if line.split() else ""
        _, at, target = head.partition("@")
        return not at or target.lower() == self.username.lower()

    def text_of(self, message: Message, *, latest_reply: int | None) -> str:
        """What the user said, for the model: the mention of the bot taken out, and the
        message they answer quoted first, unless it is the bot's latest reply (which the
        history ends with anyway): a reply to something older is understood in context."""
        text = self.without_mention(message.text or message.caption or "").strip()
        replied = message.reply_to_message
        if replied is None or replied.message_id == latest_reply or not text:
            return text
        quoted = (replied.text or replied.caption or "").strip()
        if not quoted:
            return text
        if len(quoted) > QUOTE_CHARS:
            quoted = quoted[:QUOTE_CHARS].rstrip() + "…"
        sender = replied.from_user
        who = "you" if sender is not None and sender.id == self.id else _name(sender)
        return f'[replying to {who}: "{quoted}"]\n{text}'

    def without_mention(self, text: str) -> str:
        lowered, mention = text.lower(), self.mention.lower()
        while (index := lowered.find(mention)) >= 0:
            text = text[:index] + text[index + len(mention) :]
            lowered = text.lower()
        return text


def _name(user: User | None) -> str:
    return user.full_name if user is not None else "someone"


def place_of(message: Message, *, quote: bool = True) -> Place:
    """Where the answer to `message` goes; in groups it quotes the message it answers."""
    thread = message.message_thread_id if message.is_topic_message else None
    group = message.chat.type != Chat.PRIVATE
    reply_to = message.message_id if group and quote else None
    return Place(message.chat.id, thread, reply_to)
