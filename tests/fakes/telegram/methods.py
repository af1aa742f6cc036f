"""The Bot API methods the fake Telegram server answers, in Telegram's own words when they refuse.

Handlers are synchronous: they validate the way Telegram does, apply flood limits, change the
TelegramState and return the `result`, or raise ApiError. Knows nothing of HTTP.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from typing import Any

from tests.fakes.telegram.limits import DRAFT_METHOD, FloodLimits, RateLimitEvent
from tests.fakes.telegram.state import TelegramState, put, scope_key
from tests.fakes.telegram.text import MAX_CAPTION_UTF16, TextRejected, checked_text
from tests.fakes.telegram.updates import JsonDict, member_dict
from tests.fakes.telegram.webhooks import checked_webhook, webhook_info
from tests.fakes.telegram.wire import ApiError, Upload

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset({
    "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
    "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
})  # fmt: skip
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_STALE_QUERY = "query is too old and response timeout expired or query ID is invalid"


class BotApi:
    """The server side of the Bot API: one handler per method, acting on a TelegramState.

    Every handler checks its input before the flood limits, so a refused request is not
    counted as a write; refusals by the limits are kept in `rate_limited`.
    """

    def __init__(self, state: TelegramState, *, limits: FloodLimits) -> None:
        self.state = state
        self.limits = limits
        self.rate_limited: list[RateLimitEvent] = []
        self._handlers: dict[str, Callable[[JsonDict], Any]] = {
            "getme": lambda _: self.state.bot,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "deletemessage": self._delete_message,
            "sendchataction": self._send_chat_action,
            "sendmessagedraft": self._send_message_draft,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "answercallbackquery": self._answer_callback_query,
            "getchatmember": self._get_chat_member,
            "getchat": self._get_chat,
            "getfile": self._get_file,
            "senddocument": lambda params: self._send_file(params, "document"),
            "sendphoto": lambda params: self._send_file(params, "photo"),
        }

    def handle(self, method: str, params: JsonDict) -> Any:
        """The method's result (deep-copied: stored state never leaks), or ApiError."""
        handler = self._handlers.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        return copy.deepcopy(handler(params))

    # Parameters, checked in Telegram's words.
    def _chat(self, params: JsonDict) -> JsonDict:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError.bad_request("chat_id is empty")
        chat = self.state.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            raise ApiError.bad_request("chat not found")
        return chat

    def _stored(self, chat_id: int, params: JsonDict, missing: str) -> JsonDict:
        if params.get("inline_message_id"):
            raise ApiError.bad_request("inline messages are not supported by the fake")
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise ApiError.bad_request("message identifier is not specified")
        message = self.state.live(chat_id, message_id)
        if message is None:
            raise ApiError.bad_request(missing)
        return message

    def _text(self, params: JsonDict, key: str, **limits: Any) -> tuple[str, list[JsonDict]]:
        entities_key = "caption_entities" if key == "caption" else "entities"
        try:
            return checked_text(
                params.get(key),
                entities=params.get(entities_key),
                parse_mode=params.get("parse_mode"),
                **limits,
            )
        except TextRejected as exc:
            raise ApiError.bad_request(exc.reason) from exc

    def _markup(self, params: JsonDict) -> JsonDict | None:
        """An inline keyboard as the message will show it; other keyboards are not echoed."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError.bad_request("can't parse inline keyboard: rows must be arrays")
        for button in (button for row in rows for button in row):
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise ApiError.bad_request("can't parse inline keyboard button: text is missing")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA_BYTES:
                raise ApiError.bad_request("BUTTON_DATA_INVALID")
            if set(button) <= {"text"}:
                raise ApiError.bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
        return {"inline_keyboard": rows} if rows else None

    def _reply_to(self, chat_id: int, params: JsonDict) -> JsonDict | None:
        reply = params.get("reply_parameters")
        source = reply if isinstance(reply, dict) else params
        message_id = source.get("message_id" if source is reply else "reply_to_message_id")
        if message_id is None:
            return None
        found = self.state.live(chat_id, message_id)
        if found is None and not source.get("allow_sending_without_reply"):
            raise ApiError.bad_request("message to be replied not found")
        return found

    def _admit(self, method: str, chat_id: int) -> None:
        refused = self.limits.admit(method, chat_id)
        if refused is not None:
            self.rate_limited.append(refused)
            wait = refused.retry_after
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)

    # Handlers, one per method.
    def _set_webhook(self, params: JsonDict) -> bool:
        if params.get("url") == "":  # Telegram's other way to remove it
            return self._delete_webhook(params)
        webhook = checked_webhook(params)
        if "allowed_updates" in params:
            self.state.updates.set_allowed(params["allowed_updates"])
        if params.get("drop_pending_updates"):
            self.state.updates.clear()
        self.state.webhook = webhook
        return True

    def _delete_webhook(self, params: JsonDict) -> bool:
        self.state.webhook = None
        if params.get("drop_pending_updates"):
            self.state.updates.clear()
        return True

    def _get_webhook_info(self, _: JsonDict) -> JsonDict:
        return webhook_info(self.state.webhook, self.state.updates)

    def _send_message(self, params: JsonDict) -> JsonDict:
        chat = self._chat(params)
        text, entities = self._text(params, "text")
        markup, reply_to = self._markup(params), self._reply_to(chat["id"], params)
        self._admit("sendMessage", chat["id"])
        return self.state.post(
            chat, self.state.sender(), text=text, entities=entities, reply_to=reply_to,
            reply_markup=markup, thread_id=params.get("message_thread_id"),
        )  # fmt: skip

    def _edit_message_text(self, params: JsonDict) -> JsonDict:
        chat = self._chat(params)
        text, entities = self._text(params, "text")
        markup = self._markup(params)  # omitted: the edit removes the inline keyboard
        message = self._stored(chat["id"], params, "message to edit not found")
        if message["from"]["id"] != self.state.bot["id"]:
            raise ApiError.bad_request("message can't be edited")
        if "text" not in message:
            raise ApiError.bad_request("there is no text in the message to edit")
        current = (message["text"], message.get("entities", []), message.get("reply_markup"))
        if current == (text, entities, markup):
            raise ApiError.bad_request(NOT_MODIFIED)
        self._admit("editMessageText", chat["id"])
        message["text"], message["edit_date"] = text, int(time.time())
        put(message, "entities", entities)
        put(message, "reply_markup", markup)
        return message

    def _edit_message_reply_markup(self, params: JsonDict) -> JsonDict:
        chat = self._chat(params)
        markup = self._markup(params)
        message = self._stored(chat["id"], params, "message to edit not found")
        if message.get("reply_markup") == markup:
            raise ApiError.bad_request(NOT_MODIFIED)
        put(message, "reply_markup", markup)
        return message

    def _delete_message(self, params: JsonDict) -> bool:
        chat = self._chat(params)
        message = self._stored(chat["id"], params, "message to delete not found")
        self.state.remove(chat["id"], message["message_id"])
        return True

    def _send_chat_action(self, params: JsonDict) -> bool:
        self._chat(params)
        if params.get("action") not in CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        return True

    def _send_message_draft(self, params: JsonDict) -> bool:
        # Drafts exist only in private chats, and draft_id 0 is reserved.
        chat_id, draft_id = params.get("chat_id"), params.get("draft_id")
        if isinstance(chat_id, int) and chat_id < 0:
            raise ApiError.bad_request("TEXTDRAFT_PEER_INVALID")
        if not isinstance(draft_id, int) or draft_id == 0:
            raise ApiError.bad_request("TEXTDRAFT_ID_INVALID")
        chat = self._chat(params)
        text, entities = self._text(params, "text", allow_empty=True)
        self._admit(DRAFT_METHOD, chat["id"])
        draft = {"draft_id": draft_id, "text": text, "entities": entities}
        if params.get("message_thread_id") is not None:
            draft["message_thread_id"] = params["message_thread_id"]
        draft["can_stop"] = params.get("can_stop") is True  # Bot API 10.3: a Stop button
        self.state.drafts.setdefault(chat["id"], {})[draft_id] = draft
        return True

    def _set_my_commands(self, params: JsonDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError.bad_request("can't parse commands JSON object")
        for command in commands:
            if not _COMMAND.fullmatch(str(command.get("command", ""))):
                raise ApiError.bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        self.state.commands_by_scope[_commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _delete_my_commands(self, params: JsonDict) -> bool:
        self.state.commands_by_scope.pop(_commands_key(params), None)
        return True

    def _get_my_commands(self, params: JsonDict) -> list[JsonDict]:
        return self.state.commands_by_scope.get(_commands_key(params), [])

    def _answer_callback_query(self, params: JsonDict) -> bool:
        query_id = params.get("callback_query_id")
        queries, answers = self.state.callback_queries, self.state.callback_answers
        if query_id not in queries or query_id in answers:
            raise ApiError.bad_request(_STALE_QUERY)
        answer_keys = ("text", "show_alert", "url", "cache_time")
        answers[query_id] = {k: params[k] for k in answer_keys if k in params}
        return True

    def _get_chat_member(self, params: JsonDict) -> JsonDict:
        chat = self._chat(params)
        user_id = params.get("user_id")
        if not isinstance(user_id, int):
            raise ApiError.bad_request("invalid user_id specified")
        member = self.state.members.get((chat["id"], user_id), ("member", False))
        is_bot = user_id == self.state.bot["id"]
        user = self.state.sender() if is_bot else self.state.users.get(user_id)
        return member_dict(
            user or {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"},
            member[0],
            can_change_info=member[1],
        )

    def _get_chat(self, params: JsonDict) -> JsonDict:
        gifts = ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription")
        return {
            **self._chat(params), "accent_color_id": 0, "max_reaction_count": 11,
            "accepted_gift_types": dict.fromkeys((*gifts, "gifts_from_channels"), False),
        }  # fmt: skip

    def _get_file(self, params: JsonDict) -> JsonDict:
        stored = self.state.files.get(str(params.get("file_id")))
        if stored is None:
            raise ApiError.bad_request("invalid file_id")
        if len(stored.data) > MAX_DOWNLOAD_BYTES:
            raise ApiError.bad_request("file is too big")
        return stored.info()

    def _send_file(self, params: JsonDict, kind: str) -> JsonDict:
        """sendDocument / sendPhoto: a new upload (multipart) or a known file_id."""
        chat = self._chat(params)
        given = params.get(kind)
        if isinstance(given, Upload):
            stored = self.state.add_file(given.data, given.file_name, given.mime_type)
        elif isinstance(given, str) and given in self.state.files:
            stored = self.state.files[given]
        else:
            raise ApiError.bad_request(f"there is no {kind} in the request")
        caption, entities = self._text(
            params, "caption", limit=MAX_CAPTION_UTF16, caption=True, allow_empty=True
        )
        markup, reply_to = self._markup(params), self._reply_to(chat["id"], params)
        self._admit("sendDocument" if kind == "document" else "sendPhoto", chat["id"])
        media = {"document": stored.document()} if kind == "document" else {"photo": stored.photo()}
        return self.state.post(
            chat, self.state.sender(), text=caption, entities=entities, reply_to=reply_to,
            reply_markup=markup, thread_id=params.get("message_thread_id"), media=media,
        )  # fmt: skip


def _commands_key(params: JsonDict) -> str:
    return scope_key(params.get("scope"), params.get("language_code"))
