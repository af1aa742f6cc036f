"""A SillyTavern chat file (JSONL) read into messages a channel can keep: the import side of
`chatfiles`.

Pure: bytes in, `KeptMessage`s out, or a `UsageError` saying what is wrong and what to do,
so a broken file never reaches the store. Reads every shape the shared spec lists
("operations and formats", section 1): the 1.15+ header ("unused" names, no date) and the
older one (real names, `create_date`), header-less group chats, dates in any of their forms
(see `chatdates`), Chub-style `{"message": …}` texts, and missing fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.domain import Role
from bot.core.errors import UsageError
from bot.core.files import shown_name, text_of
from bot.core.kept_chats import KeptMessage, KeptVersion
from bot.service.chatdates import parse_send_date
from bot.service.chatfiles import APP_NAME, UNUSED

MIB = 1024 * 1024
MAX_CHAT_FILE_BYTES = 20 * MIB
"""What a bot may download from Telegram (getFile stops at 20 MB) and what Discord's slash
commands take: any chat file a member can send is read. Long chats with every swipe kept run
to a few MB; parsing 20 MB of JSON takes well under a second."""
MAX_CHAT_MESSAGES = 10_000
"""Messages one import stores, in one transaction: a long roleplay runs to a few thousand,
and the prompt only ever reads the newest of them. Ten thousand rows are written in seconds
on SQLite, without holding the write lock long enough to stall other channels' turns."""
MAX_NAME_CHARS = 100
"""A speaker's name kept from the file; SillyTavern's own are short, a hostile file's not."""
USER_NAME = "User"
CHARACTER_NAME = "Character"
NOTHING_CHANGED = "Nothing was changed."
EXPORT_HINT = "In SillyTavern: ☰ (Manage chat files) → Export → .jsonl."


@dataclass(frozen=True, slots=True)
class ReadChat:
    """A chat file's conversation, its character's name when the file gives one, and how many
    hidden messages (`is_system`) were left out, as they were never part of the prompt."""

    messages: tuple[KeptMessage, ...]
    character: str | None
    hidden: int


def read_chat_file(data: bytes, *, filename: str, received_at: datetime) -> ReadChat:
    """The file's messages in order; `received_at` dates those that carry no usable date of
    their own (or the date of the message before them, when there is one)."""
    name = shown_name(filename)
    if len(data) > MAX_CHAT_FILE_BYTES:
        raise UsageError(
            f"{name} is {len(data) / MIB:.1f} MB; I import chat files up to "
            f"{MAX_CHAT_FILE_BYTES // MIB} MB. Delete old messages in SillyTavern (or split the "
            f"chat) and send it again. {NOTHING_CHANGED}"
        )
    text = text_of(data)
    if text is None:
        raise UsageError(
            f"{name} is not UTF-8 text, so it is not a SillyTavern chat file (those are .jsonl, "
            f"one JSON object a line, in UTF-8). {EXPORT_HINT} {NOTHING_CHANGED}"
        )
    rows = [(number, line) for number, line in enumerate(text.split("\n"), 1) if line.strip()]
    if not rows:
        raise UsageError(f"{name} is empty. {EXPORT_HINT} {NOTHING_CHANGED}")
    parsed = [(number, _json_line(name, number, line, whole=text)) for number, line in rows]
    header = _header(name, parsed[0][1])
    lines = parsed[1:] if header is not None else parsed
    if len(lines) > MAX_CHAT_MESSAGES:
        raise UsageError(
            f"{name} has {len(lines):,} messages; I import up to {MAX_CHAT_MESSAGES:,}. "
            f"Start a new chat from a later point in SillyTavern (a branch) and send that. "
            f"{NOTHING_CHANGED}"
        )
    names = _names(header or {}, [fields for _, fields in lines])
    messages: list[KeptMessage] = []
    hidden = 0
    last_date = received_at
    for number, fields in lines:
        if fields.get("is_system") is True:
            hidden += 1
            continue
        message = _message(name, number, fields, names=names, default_date=last_date)
        if message is not None:
            messages.append(message)
            last_date = message.sent_at
    if not messages:
        raise UsageError(
            f"{name} holds no messages I can import (only a header, hidden or empty ones). "
            f"{NOTHING_CHANGED}"
        )
    return ReadChat(tuple(messages), names.character, hidden)


def _json_line(name: str, number: int, line: str, *, whole: str) -> dict[str, object]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UsageError(_not_jsonl(name, number, exc.msg, whole=whole)) from None
    except RecursionError:
        raise UsageError(
            f"Line {number} of {name} nests too deeply to be a chat message. {NOTHING_CHANGED}"
        ) from None
    if not isinstance(value, dict):
        raise UsageError(
            f"Line {number} of {name} is not a chat message (a JSON object). "
            f"{EXPORT_HINT} {NOTHING_CHANGED}"
        )
    return value


def _not_jsonl(name: str, number: int, why: str, *, whole: str) -> str:
    """Say what the file looks like when it is not JSONL: a card, or one pretty JSON value."""
    try:
        value = json.loads(whole)
    except (json.JSONDecodeError, RecursionError):
        value = None
    if isinstance(value, dict) and ("spec" in value or "first_mes" in value):
        return f"{name} is a character card, not a chat: send it with /character import."
    if value is not None:
        return (
            f"{name} is one JSON document, not a SillyTavern chat (JSONL: one message a line). "
            f"{EXPORT_HINT} {NOTHING_CHANGED}"
        )
    return (
        f"Line {number} of {name} is not JSON ({why}), so this is not a SillyTavern chat "
        f"file, or it was cut short. {EXPORT_HINT} {NOTHING_CHANGED}"
    )


def _header(name: str, first: Mapping[str, object]) -> Mapping[str, object] | None:
    """The first line when it is a header (SillyTavern takes a file whose first line has
    `user_name`, `name` or `chat_metadata`); None for a header-less group chat."""
    if "mes" in first or ("name" in first and "chat_metadata" not in first):
        return None
    if "chat_metadata" in first or "user_name" in first or "character_name" in first:
        return first
    raise UsageError(
        f"{name} is JSON lines but not a SillyTavern chat: its first line has no chat_metadata "
        f"or user_name, and no message. {EXPORT_HINT} {NOTHING_CHANGED}"
    )


@dataclass(frozen=True, slots=True)
class _Names:
    user: str
    character: str | None


def _names(header: Mapping[str, object], lines: Sequence[Mapping[str, object]]) -> _Names:
    """Who speaks when a message has no name: the header's names (ours in our metadata, the
    real ones in an old header), else the first speaker of each side."""
    metadata = header.get("chat_metadata")
    ours = metadata.get(APP_NAME.lower()) if isinstance(metadata, dict) else None
    character = _name(ours.get("character_name")) if isinstance(ours, dict) else None
    character = character or _name(header.get("character_name"))
    user = _name(header.get("user_name"))
    for fields in lines:
        said = _name(fields.get("name"))
        if fields.get("is_user") is True:
            user = user or said
        elif fields.get("is_system") is not True:
            character = character or said
    return _Names(user or USER_NAME, character)


def _name(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    name = " ".join(value.split())[:MAX_NAME_CHARS]
    return name if name and name != UNUSED else None


def _message(
    filename: str,
    number: int,
    fields: Mapping[str, object],
    *,
    names: _Names,
    default_date: datetime,
) -> KeptMessage | None:
    """One message line, or None when it has no text in any version (SillyTavern shows such
    a line as an empty bubble; the model would read nothing)."""
    is_user = fields.get("is_user") is True
    shown = _text(fields.get("mes"))
    sent_at = parse_send_date(fields.get("send_date")) or default_date
    speaker = _name(fields.get("name")) or (
        names.user if is_user else names.character or CHARACTER_NAME
    )
    if is_user:
        if not shown:
            return None
        return KeptMessage(Role.USER, speaker, sent_at, (KeptVersion(shown or ""),))
    versions, index = _versions(fields, shown)
    if not any(v.content for v in versions):
        return None
    return KeptMessage(Role.ASSISTANT, speaker, sent_at, versions, index)


def _versions(
    fields: Mapping[str, object], shown: str | None
) -> tuple[tuple[KeptVersion, ...], int]:
    """A reply's swipes with their own reasoning, and which one is shown. `mes` is what
    SillyTavern shows, so it is the shown version's text even where `swipes` disagrees."""
    raw = fields.get("swipes")
    texts = [_text(item) for item in raw] if isinstance(raw, list) else []
    swipes = [text for text in texts if text is not None]
    chosen = fields.get("swipe_id")
    index = chosen if isinstance(chosen, int) and not isinstance(chosen, bool) else -1
    if not 0 <= index < len(swipes):
        index = swipes.index(shown) if shown in swipes else 0
    if not swipes:
        swipes = [shown or ""]
    swipes[index] = shown if shown is not None else swipes[index]
    infos = fields.get("swipe_info")
    reasonings = [_reasoning(info) for info in infos] if isinstance(infos, list) else []
    reasonings += [""] * (len(swipes) - len(reasonings))
    reasonings[index] = _reasoning(fields) or reasonings[index]
    versions = tuple(KeptVersion(text, reasonings[i]) for i, text in enumerate(swipes))
    return versions, index


def _text(value: object) -> str | None:
    """A message's text: a string, or Chub's `{"message": …}`."""
    if isinstance(value, dict):
        value = value.get("message")
    return value if isinstance(value, str) else None


def _reasoning(holder: object) -> str:
    """`extra.reasoning` of a message or of one of its `swipe_info` entries."""
    extra = holder.get("extra") if isinstance(holder, dict) else None
    reasoning = extra.get("reasoning") if isinstance(extra, dict) else None
    return reasoning if isinstance(reasoning, str) else ""
