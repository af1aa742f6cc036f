"""A channel's conversation as a file: SillyTavern chat JSONL, or a Markdown transcript.

Pure: it is given the lines already chosen and named (see `commands.chats`) and knows no
store. The JSONL follows SillyTavern 1.15+ (docs: shared spec "operations and formats",
section 1): a header whose name fields are literally "unused", then one message a line,
joined by newlines with none at the end, dates as ISO 8601 UTC with milliseconds. The
real names go in our own key of `chat_metadata`, where SillyTavern keeps what it does
not know.
"""

from __future__ import annotations

import json
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

APP_NAME = "Parlor"
UNUSED = "unused"
"""What SillyTavern 1.15+ writes in the header's deprecated name fields."""
MAX_NAME_CHARS = 80
"""The longest a character's name is kept in a file name; file systems allow 255 bytes."""
_NAME_PUNCTUATION = frozenset(" -_.,'()&+!")
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]#<>|~])")


@dataclass(frozen=True, slots=True)
class ChatLine:
    """One message as a chat file keeps it. `swipes` are a reply's kept versions (only
    replies have them), `swipe_id` the one shown, whose text is `text`."""

    name: str
    is_user: bool
    text: str
    sent_at: datetime | None
    reasoning: str = ""
    swipes: tuple[str, ...] = ()
    swipe_id: int = 0
    swipe_reasonings: tuple[str, ...] = ()
    """Each swipe's own reasoning, parallel to `swipes` (kept in its `swipe_info`)."""


def send_date(moment: datetime | None, *, fallback: datetime) -> str:
    """JavaScript's `toISOString()`: UTC, milliseconds, a Z. A naive time is taken as UTC."""
    when = moment or fallback
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def sillytavern_jsonl(
    lines: Sequence[ChatLine],
    *,
    character: str,
    exported_at: datetime,
    integrity: str | None = None,
) -> str:
    """The chat file SillyTavern opens (Import chat, or a file in its chats folder)."""
    header = {
        "chat_metadata": {
            "integrity": integrity or str(uuid.uuid4()),
            "parlor": {
                "character_name": character,
                "user_names": sorted({line.name for line in lines if line.is_user}),
                "exported_at": send_date(exported_at, fallback=exported_at),
            },
        },
        "user_name": UNUSED,
        "character_name": UNUSED,
    }
    rows = [_compact(header)]
    rows.extend(_compact(_message(line, fallback=exported_at)) for line in lines)
    return "\n".join(rows)


def _message(line: ChatLine, *, fallback: datetime) -> dict[str, object]:
    sent = send_date(line.sent_at, fallback=fallback)
    message: dict[str, object] = {
        "name": line.name,
        "is_user": line.is_user,
        "is_system": False,
        "send_date": sent,
        "mes": line.text,
        "extra": _extra(line),
    }
    if not line.is_user:
        swipes = line.swipes or (line.text,)
        message["swipe_id"] = line.swipe_id if line.swipes else 0
        message["swipes"] = list(swipes)
        thoughts = line.swipe_reasonings if line.swipes else (line.reasoning,)
        message["swipe_info"] = [
            {"send_date": sent, "extra": _swipe_extra(thoughts, index)}
            for index in range(len(swipes))
        ]
    return message


def _extra(line: ChatLine) -> dict[str, object]:
    if line.is_user or not line.reasoning:
        return {}
    return {"reasoning": line.reasoning, "reasoning_type": "model"}


def _swipe_extra(reasonings: Sequence[str], index: int) -> dict[str, object]:
    """A swipe's own extras: its reasoning, where SillyTavern keeps it per swipe."""
    reasoning = reasonings[index] if index < len(reasonings) else ""
    return {"reasoning": reasoning, "reasoning_type": "model"} if reasoning else {}


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def markdown_transcript(lines: Sequence[ChatLine], *, title: str) -> str:
    """For people: a title, then each message after its speaker in bold; reasoning and
    other versions are left out, as they were not part of the conversation read."""
    parts = [f"# {_escaped(title)}"]
    parts.extend(f"**{_escaped(line.name)}:** {line.text.strip()}" for line in lines)
    return "\n\n".join(parts) + "\n"


def _escaped(text: str) -> str:
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def export_title(character: str, day: date) -> str:
    """`Parlor - Seraphina - 2026-12-07`: whose chat, and when it was taken."""
    return f"{APP_NAME} - {safe_file_part(character)} - {day.isoformat()}"


def safe_file_part(name: str) -> str:
    """A name fit for any file system and platform: letters, digits and plain punctuation
    only (no slashes, controls or emoji), spaces collapsed, never empty, never hidden."""
    normal = unicodedata.normalize("NFKC", name)
    kept = "".join(
        char if char in _NAME_PUNCTUATION or unicodedata.category(char)[0] in "LN" else " "
        for char in normal
    )
    tidy = " ".join(kept.split()).strip(" .-")[:MAX_NAME_CHARS].strip(" .-")
    return tidy or "Chat"
