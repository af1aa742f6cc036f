"""Files that come with a Telegram message: photos for vision models, documents for
commands (a character card sent with `/character import`, or replied to with it), and
documents sent to chat (an image, or a text file the service reads into the message).

Telegram sends each photo in several sizes; the largest that fits our image cap is
enough for any vision model. Downloads are bounded by what Telegram says the size is,
before a byte is fetched.
"""

from __future__ import annotations

import logging

from telegram import Bot, Document, Message, PhotoSize
from telegram.error import TelegramError

from bot.core.domain import Attachment
from bot.core.errors import UsageError
from bot.core.files import MAX_IMAGE_BYTES, is_image, refusal_by_size, shown_name

_log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
"""The Bot API's own download limit (a local Bot API server allows more; we do not need it)."""
MAX_PHOTO_BYTES = MAX_IMAGE_BYTES


async def photos_of(bot: Bot, message: Message) -> tuple[Attachment, ...]:
    """The message's photo, at the largest size under the cap; nothing if none fits."""
    fitting = [p for p in message.photo if (p.file_size or 0) <= MAX_PHOTO_BYTES]
    if not fitting:
        return ()
    best = max(fitting, key=lambda p: p.width * p.height)
    data = await _download(bot, best, "the photo")
    return (Attachment(f"photo-{message.message_id}.jpg", "image/jpeg", data),)


async def files_for_chat(bot: Bot, message: Message) -> tuple[Attachment, ...]:
    """What comes with a chat message for the model: its photo, or its document."""
    photos = await photos_of(bot, message) if message.photo else ()
    return photos + await document_for_chat(bot, message)


async def document_for_chat(bot: Bot, message: Message) -> tuple[Attachment, ...]:
    """The document sent as a chat message, for the model. UsageError (one line, nothing
    downloaded) when its announced size is over what the model could be given."""
    document = message.document
    if document is None:
        return ()
    name = document.file_name or "file"
    size = document.file_size or 0
    problem = refusal_by_size(name, document.mime_type, size)
    if problem is None and is_image(document.mime_type or "") and size > MAX_PHOTO_BYTES:
        limit = MAX_PHOTO_BYTES // (1024 * 1024)
        problem = f"{shown_name(name)} is over {limit} MB, the most I look at. Nothing was sent."
    if problem:
        raise UsageError(problem)
    data = await _download(bot, document, shown_name(name))
    return (Attachment(name, document.mime_type or "application/octet-stream", data),)


async def documents_for_command(bot: Bot, message: Message) -> tuple[Attachment, ...]:
    """The document sent with the command, else the one in the message it replies to."""
    document = message.document
    replied = message.reply_to_message
    if document is None and replied is not None:
        document = replied.document
    if document is None:
        return ()
    if (document.file_size or 0) > MAX_FILE_BYTES:
        raise UsageError(
            f"{document.file_name or 'That file'} is larger than the 20 MB a bot may download."
        )
    data = await _download(bot, document, document.file_name or "the file")
    return (
        Attachment(
            document.file_name or "file",
            document.mime_type or "application/octet-stream",
            data,
        ),
    )


async def _download(bot: Bot, item: Document | PhotoSize, what: str) -> bytes:
    try:
        file = await bot.get_file(item.file_id)
        return bytes(await file.download_as_bytearray())
    except TelegramError as exc:
        _log.warning("could not download a file from Telegram (%s)", type(exc).__name__)
        raise UsageError(f"I could not download {what} from Telegram; send it again.") from None
