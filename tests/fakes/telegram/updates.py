"""Telegram-shaped users, chats, messages, files and updates for the fake server; its update queue.

Builds the JSON the real Bot API sends, with UTF-16 entity offsets; knows nothing of HTTP.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram.text import utf16_len

JsonDict = dict[str, Any]

# Telegram's default when allowed_updates is empty or was never given.
_OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MAX_UPDATES_PER_CALL = 100


def user_dict(
    user_id: int,
    *,
    first_name: str | None = None,
    username: str | None = None,
    is_bot: bool = False,
) -> JsonDict:
    """A User; people get a language_code, as their clients report one."""
    user: JsonDict = {"id": user_id, "is_bot": is_bot, "first_name": first_name or f"User{user_id}"}
    if username:
        user["username"] = username
    if not is_bot:
        user["language_code"] = "en"
    return user


def chat_dict(
    chat_id: int, chat_type: str, *, user: JsonDict | None = None, title: str | None = None
) -> JsonDict:
    """A Chat: a private one mirrors its user's names, a group has a title."""
    if chat_type == "private":
        person = user or user_dict(chat_id)
        chat = {"id": chat_id, "type": "private", "first_name": person["first_name"]}
        if "username" in person:
            chat["username"] = person["username"]
        return chat
    return {"id": chat_id, "type": chat_type, "title": title or f"Group {chat_id}"}


def auto_entities(text: str, bot_username: str) -> list[JsonDict]:
    """The entities Telegram's clients attach: a leading /command, and @mentions of the bot."""
    entities: list[JsonDict] = []
    command_end = 0
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        command_end = len(command)
        entities.append({"type": "bot_command", "offset": 0, "length": utf16_len(command)})
    mention = re.compile(rf"@{re.escape(bot_username)}\b", re.IGNORECASE)
    for match in mention.finditer(text, command_end):
        offset = utf16_len(text[: match.start()])
        entities.append({"type": "mention", "offset": offset, "length": utf16_len(match[0])})
    return entities


def message_dict(
    message_id: int,
    *,
    chat: JsonDict,
    sender: JsonDict,
    text: str | None = None,
    entities: list[JsonDict] | None = None,
    reply_to: JsonDict | None = None,
    thread_id: int | None = None,
    reply_markup: JsonDict | None = None,
    media: JsonDict | None = None,
) -> JsonDict:
    """A Message with only the fields that apply, as Telegram omits empty ones.

    With `media` ({"document": …} or {"photo": […]}) the text becomes the caption.
    """
    message: JsonDict = {
        "message_id": message_id,
        "from": sender,
        "chat": chat,
        "date": int(time.time()),
    }
    if thread_id is not None:
        message["message_thread_id"] = thread_id
        message["is_topic_message"] = True
    if reply_to is not None:
        message["reply_to_message"] = {k: v for k, v in reply_to.items() if k != "reply_to_message"}
    text_key, entities_key = ("caption", "caption_entities") if media else ("text", "entities")
    if media:
        message.update(media)
    if text:
        message[text_key] = text
    if entities:
        message[entities_key] = entities
    if reply_markup and reply_markup.get("inline_keyboard"):
        message["reply_markup"] = {"inline_keyboard": reply_markup["inline_keyboard"]}
    return message


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A file the bot can fetch with getFile and download from `file_path`."""

    file_id: str
    file_unique_id: str
    data: bytes = field(repr=False)
    file_name: str
    mime_type: str
    file_path: str

    def info(self) -> JsonDict:
        """getFile's answer."""
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }

    def document(self) -> JsonDict:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "file_size": len(self.data),
        }

    def photo(self) -> list[JsonDict]:
        """One PhotoSize; the fake does not decode images, so the size is nominal."""
        size = {"width": 320, "height": 320, "file_size": len(self.data)}
        return [{"file_id": self.file_id, "file_unique_id": self.file_unique_id, **size}]


def member_dict(user: JsonDict, status: str, *, can_change_info: bool) -> JsonDict:
    """A ChatMember with every field PTB requires for its status."""
    if status == "creator":
        return {"status": status, "user": user, "is_anonymous": False}
    if status != "administrator":
        return {"status": status, "user": user}
    rights = (
        "can_delete_messages", "can_manage_video_chats", "can_restrict_members",
        "can_promote_members", "can_invite_users", "can_post_stories", "can_edit_stories",
        "can_delete_stories",
    )  # fmt: skip
    return {
        "status": status, "user": user, "can_be_edited": False, "is_anonymous": False,
        "can_manage_chat": True, "can_change_info": can_change_info,
        **dict.fromkeys(rights, False),
    }  # fmt: skip


def update_kind(update: JsonDict) -> str:
    """The update's one payload key: "message", "edited_message", "callback_query", …"""
    return next(key for key in update if key != "update_id")


class UpdateQueue:
    """Updates waiting for getUpdates: kept until an offset confirms them, ids always rising.

    allowed_updates is remembered between calls, as Telegram does; an update of a kind not
    allowed is dropped when it would have been delivered.
    """

    def __init__(self, first_update_id: int = 100_000_001) -> None:
        self._next_id = first_update_id
        self._pending: list[JsonDict] = []
        self.allowed: frozenset[str] | None = None  # None: every kind but the opt-in ones

    def __len__(self) -> int:
        return len(self._pending)

    def push(self, kind: str, payload: JsonDict) -> JsonDict:
        update = {"update_id": self._next_id, kind: payload}
        self._next_id += 1
        self._pending.append(update)
        return update

    def set_allowed(self, allowed: object) -> None:
        """A list of kinds; an empty list restores the default."""
        if isinstance(allowed, list):
            self.allowed = frozenset(map(str, allowed)) or None

    def confirm(self, offset: object) -> None:
        """offset N forgets updates below N; -N keeps only the newest N."""
        if not isinstance(offset, int) or offset == 0:
            return
        if offset < 0:
            self._pending = self._pending[offset:]
        else:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]

    def batch(self, limit: object) -> list[JsonDict]:
        """Up to `limit` deliverable updates, oldest first (they stay until confirmed)."""
        count = limit if isinstance(limit, int) and limit > 0 else MAX_UPDATES_PER_CALL
        self._pending = [u for u in self._pending if self._is_allowed(update_kind(u))]
        return self._pending[: min(count, MAX_UPDATES_PER_CALL)]

    def clear(self) -> None:
        """deleteWebhook(drop_pending_updates=True)."""
        self._pending.clear()

    def _is_allowed(self, kind: str) -> bool:
        if self.allowed is None:
            return kind not in _OPT_IN_UPDATES
        return kind in self.allowed
