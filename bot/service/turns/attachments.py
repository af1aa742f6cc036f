"""Files that come with a message: text files read into its words (name and content, fenced),
and any other file that is not an image refused in one line before anything is sent.

Images are `images`' business (vision). Platforms ask `refusal_by_size` before they
download a file and `refusal` once they hold it, so a user hears at once; the service asks
again (`with_text_files`), so no platform can slip a binary file to the endpoint.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.core.domain import Attachment
from bot.core.errors import UsageError
from bot.core.untrusted import safe_to_show
from bot.service.turns.images import is_image

MAX_TEXT_CHARS = 100_000
"""All the text files of one message together (llmcord's default `max_text`); the prompt
budget still decides whether that fits the model's context."""
MAX_TEXT_FILE_BYTES = 4 * MAX_TEXT_CHARS
"""Checked against the size the platform announces, before a download: UTF-8 spends at most
four bytes a character, so every file within the character cap is under it."""
MAX_SHOWN_NAME_CHARS = 80
_BACKTICKS = re.compile(r"`+")


def refusal_by_size(filename: str, content_type: str | None, size: int) -> str | None:
    """One line refusing a file that is not an image and too large to be read as text;
    None when it may be downloaded. Images keep their own cap (see `images`)."""
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
    text = _text_of(file.data)
    if text is None:
        return (
            f"I can't read {shown_name(file.filename)}: I take text files and images "
            "(PNG, JPEG, WebP, GIF). Nothing was sent."
        )
    if len(text) > MAX_TEXT_CHARS:
        return _too_many_chars(f"{shown_name(file.filename)} has", len(text))
    return None


def with_text_files(text: str, files: Sequence[Attachment]) -> str:
    """The message's words followed by each text file, its name above its content in a code
    fence. Raises UsageError (the refusal line) for a file that is neither text nor image,
    or when the files together are over `MAX_TEXT_CHARS`."""
    blocks: list[str] = []
    total = 0
    for file in files:
        if is_image(file.content_type):
            continue
        problem = refusal(file)
        if problem:
            raise UsageError(problem)
        content = _text_of(file.data) or ""
        total += len(content)
        if total > MAX_TEXT_CHARS:
            raise UsageError(_too_many_chars("Those files have", total))
        blocks.append(_fenced(shown_name(file.filename), content))
    return "\n\n".join(part for part in (text, *blocks) if part)


def shown_name(filename: str) -> str:
    """A file name safe to show and to quote to the model: no control or bidi characters,
    not a path, not endless."""
    name = safe_to_show(filename).strip() or "file"
    if len(name) > MAX_SHOWN_NAME_CHARS:
        name = name[: MAX_SHOWN_NAME_CHARS - 1] + "…"
    return name


def _text_of(data: bytes) -> str | None:
    """The file as text, or None when it is not: invalid UTF-8 or a NUL byte (which UTF-16
    and almost every binary format have) means binary. A byte-order mark is dropped."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None


def _fenced(name: str, content: str) -> str:
    """A fence longer than any run of backticks inside, so the file cannot close it."""
    longest = max((len(run) for run in _BACKTICKS.findall(content)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{name}\n{fence}\n{content.rstrip(chr(10))}\n{fence}"


def _too_many_chars(subject: str, count: int) -> str:
    return (
        f"{subject} {count:,} characters; I read up to {MAX_TEXT_CHARS:,} per message. "
        "Send a shorter part. Nothing was sent."
    )
