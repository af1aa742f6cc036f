"""What files a message may carry: the caps, and the one-line refusals every platform says.

Platforms ask `refusal_by_size` before they download a file and `refusal` once they hold
it, so a user hears at once; the service asks again before it sends anything (its
`attachments` and `images` modules), so no platform can slip a binary file to the
endpoint. Pure rules: no I/O.
"""

from __future__ import annotations

from bot.core.domain import Attachment
from bot.core.untrusted import safe_to_show

MAX_TEXT_CHARS = 100_000
"""All the text files of one message together (llmcord's default `max_text`); the prompt
budget still decides whether that fits the model's context."""
MAX_TEXT_FILE_BYTES = 4 * MAX_TEXT_CHARS
"""Checked against the size the platform announces, before a download: UTF-8 spends at most
four bytes a character, so every file within the character cap is under it."""
MAX_SHOWN_NAME_CHARS = 80
MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""OpenAI's own cap for an image in a request is 20 MB; most self-hosted vision servers choke
far earlier, and the base64 copy lives in the database with the message."""
MAX_IMAGES = 4
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/gif"})


def is_image(content_type: str) -> bool:
    """Whether a file of this declared type goes to a vision model (parameters ignored)."""
    return content_type.partition(";")[0].strip().lower() in IMAGE_TYPES


def refusal_by_size(filename: str, content_type: str | None, size: int) -> str | None:
    """One line refusing a file that is not an image and too large to be read as text;
    None when it may be downloaded. Images keep their own cap (`MAX_IMAGE_BYTES`)."""
    if is_image(content_type or "") or size <= MAX_TEXT_FILE_BYTES:
        return None
    return (
        f"{shown_name(filename)} is {size // 1024:,} KB; I read text files up to "
        f"{MAX_TEXT_FILE_BYTES // 1000:,} KB. Nothing was sent."
    )


def refusal(file: Attachment) -> str | None:
    """One line refusing a file the model cannot be given, or None: images and text files
    (valid UTF-8 without NUL, whatever their name or declared type) within the caps pass."""
    if is_image(file.content_type):
        return None
    too_big = refusal_by_size(file.filename, file.content_type, len(file.data))
    if too_big:
        return too_big
    text = text_of(file.data)
    if text is None:
        return (
            f"I can't read {shown_name(file.filename)}: I take text files and images "
            "(PNG, JPEG, WebP, GIF). Nothing was sent."
        )
    if len(text) > MAX_TEXT_CHARS:
        return too_many_chars(f"{shown_name(file.filename)} has", len(text))
    return None


def shown_name(filename: str) -> str:
    """A file name safe to show and to quote to the model: no control or bidi characters,
    not a path, not endless."""
    name = safe_to_show(filename).strip() or "file"
    if len(name) > MAX_SHOWN_NAME_CHARS:
        name = name[: MAX_SHOWN_NAME_CHARS - 1] + "…"
    return name


def text_of(data: bytes) -> str | None:
    """The file as text, or None when it is not: invalid UTF-8 or a NUL byte (which UTF-16
    and almost every binary format have) means binary. A byte-order mark is dropped."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def too_many_chars(subject: str, count: int) -> str:
    return (
        f"{subject} {count:,} characters; I read up to {MAX_TEXT_CHARS:,} per message. "
        "Send a shorter part. Nothing was sent."
    )
