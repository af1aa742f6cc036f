"""What the fake Telegram server remembers: chats, users, messages, files, members, commands.

Messages are kept in the shape Telegram returns them. Knows neither HTTP nor the Bot API's rules.
"""

from __future__ import annotations

import copy
import json
import mimetypes
from pathlib import PurePosixPath
from typing import Any

from tests.fakes.telegram.updates import (
    JsonDict,
    StoredFile,
    UpdateQueue,
    chat_dict,
    message_dict,
    user_dict,
)
from tests.fakes.telegram.webhooks import Webhook

MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left"})
DEFAULT_USER = user_dict(1001, first_name="Alice", username="alice")


def put(message: JsonDict, key: str, value: object) -> None:
    """Set a field, or drop it when empty: Telegram omits empty fields."""
    if value:
        message[key] = value
    else:
        message.pop(key, None)


def scope_key(scope: object, language_code: object) -> str:
    """Commands are kept per (scope, language); no scope is the default scope."""
    scope = scope if isinstance(scope, dict) else {"type": "default"}
    return json.dumps(scope, sort_keys=True) + "/" + str(language_code or "")


class TelegramState:
    """Everything the server knows, for the Bot API handlers and the test's helpers alike.

    A user's injected messages are stored beside the bot's (replies, edits and callback
    queries point at them), each chat numbering its messages from 1. Readers get copies.
    """

    def __init__(self, bot: JsonDict) -> None:
        self.bot = bot
        self.updates = UpdateQueue()
        self.webhook: Webhook | None = None  # set: updates are POSTed, getUpdates refused
        self.chats: dict[int, JsonDict] = {}
        self.users: dict[int, JsonDict] = {}
        self.files: dict[str, StoredFile] = {}
        self.drafts: dict[int, dict[int, JsonDict]] = {}
        self.callback_queries: dict[str, JsonDict] = {}
        self.callback_answers: dict[str, JsonDict] = {}
        self.commands_by_scope: dict[str, list[JsonDict]] = {}
        self.members: dict[tuple[int, int], tuple[str, bool]] = {}  # status, can_change_info
        self._messages: dict[int, dict[int, JsonDict]] = {}
        self._next_message_id: dict[int, int] = {}
        self._next_query_id = 4_382_910_000_001

    def sender(self) -> JsonDict:
        """The bot as the `from` of its own messages."""
        return {key: self.bot[key] for key in ("id", "is_bot", "first_name", "username")}

    def messages(self, chat_id: int, *, include_users: bool = False) -> list[JsonDict]:
        return [
            copy.deepcopy(message)
            for message in self._messages.get(chat_id, {}).values()
            if include_users or message["from"]["id"] == self.bot["id"]
        ]

    def message(self, chat_id: int, message_id: int) -> JsonDict | None:
        found = self._messages.get(chat_id, {}).get(message_id)
        return copy.deepcopy(found) if found is not None else None

    def live(self, chat_id: int, message_id: int) -> JsonDict | None:
        """The stored message itself, not a copy: for edits."""
        return self._messages.get(chat_id, {}).get(message_id)

    def remove(self, chat_id: int, message_id: int) -> None:
        del self._messages[chat_id][message_id]

    def post(self, chat: JsonDict, sender: JsonDict, **fields: Any) -> JsonDict:
        """Store a new message in `chat` under the chat's next message_id."""
        chat_id = chat["id"]
        self.chats.setdefault(chat_id, chat)
        message_id = self._next_message_id.get(chat_id, 1)
        self._next_message_id[chat_id] = message_id + 1
        message = message_dict(message_id, chat=chat, sender=sender, **fields)
        self._messages.setdefault(chat_id, {})[message_id] = message
        return message

    def add_file(self, data: bytes, file_name: str, mime_type: str | None = None) -> StoredFile:
        number = len(self.files) + 1
        mime = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        folder = "photos" if mime.startswith("image/") else "documents"
        stored = StoredFile(
            file_id=f"BQACAgIAAxkBAAI{number:08d}",
            file_unique_id=f"AgAD{number:06d}",
            data=data,
            file_name=file_name,
            mime_type=mime,
            file_path=f"{folder}/file_{number}{PurePosixPath(file_name).suffix}",
        )
        self.files[stored.file_id] = stored
        return stored

    def set_member(self, chat_id: int, user_id: int, status: str, *, can_change_info: bool) -> None:
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {sorted(MEMBER_STATUSES)}")
        self.members[(chat_id, user_id)] = (status, can_change_info)

    def commands(self, scope: JsonDict | None, language_code: str) -> list[JsonDict]:
        return copy.deepcopy(self.commands_by_scope.get(scope_key(scope, language_code), []))

    # For the test's helpers: who writes, where, with what.
    def user(self, given: JsonDict | int | None, chat_id: int) -> JsonDict:
        """A dict as is; an id as the user known by it; none: the private chat's user, or Alice."""
        if isinstance(given, dict):
            user = given
        elif given is None and chat_id < 0:
            user = self.users.get(DEFAULT_USER["id"], DEFAULT_USER)
        else:
            user_id = chat_id if given is None else given
            user = self.users.get(user_id) or user_dict(user_id, username=f"user{user_id}")
        self.users[user["id"]] = user
        return copy.deepcopy(user)

    def chat(
        self, chat_id: int, chat_type: str | None, user: JsonDict | None, title: str | None
    ) -> JsonDict:
        """The known chat, or a new one: private for chat_id > 0, else a supergroup."""
        known = self.chats.get(chat_id)
        if known is not None and chat_type in (None, known["type"]):
            return known
        kind = chat_type or ("private" if chat_id > 0 else "supergroup")
        chat = chat_dict(chat_id, kind, user=user, title=title)
        self.chats[chat_id] = chat
        return chat

    def existing(self, chat_id: int, message_id: int | None) -> JsonDict | None:
        """A copy of a message the test names; a wrong id is the test's mistake: KeyError."""
        if message_id is None:
            return None
        message = self.message(chat_id, message_id)
        if message is None:
            raise KeyError(f"no message {message_id} in chat {chat_id}")
        return message

    def media(self, document: str | None, photo: str | None) -> JsonDict | None:
        if document is not None:
            return {"document": self.files[document].document()}
        if photo is not None:
            return {"photo": self.files[photo].photo()}
        return None

    def new_callback_query(self, message: JsonDict | None, sender: JsonDict, data: str) -> JsonDict:
        query_id = str(self._next_query_id)
        self._next_query_id += 1
        chat_id = message["chat"]["id"] if message else 0
        query = {
            "id": query_id, "from": sender, "message": message,
            "chat_instance": f"-{abs(chat_id)}77", "data": data,
        }  # fmt: skip
        self.callback_queries[query_id] = query
        return query
