"""What people send the bot, beyond text: images for vision models, text files the service
reads into the message, and API keys typed where they must not be, which go nowhere (not
to the model, not into the history)."""

from __future__ import annotations

import logging

import discord

from bot.core.domain import Attachment
from bot.core.errors import UsageError
from bot.core.files import MAX_IMAGE_BYTES, MAX_IMAGES, refusal_by_size, shown_name

_log = logging.getLogger(__name__)

KEY_HELP = "Admins give me a key with `/connect api_key:True`, in a private form."
KEY_DELETED = f"That looked like an API key, so it went nowhere and I deleted it. {KEY_HELP}"
KEY_LEFT = (
    "That looked like an API key, so it went nowhere. Delete it, and revoke the key if "
    f"others saw it. {KEY_HELP}"
)


async def delete(message: discord.Message) -> bool:
    """Delete someone's message; False where the bot may not (no Manage Messages, a DM)."""
    try:
        await message.delete()
    except discord.HTTPException:
        return False
    return True


async def files(message: discord.Message) -> tuple[Attachment, ...]:
    """The message's files for the model: its first images (oversized ones left out, as
    before), and every other file, which the service reads as text or refuses.

    Raises UsageError, before anything is downloaded, for a file Discord says is too large
    to be read as text."""
    for item in message.attachments:
        problem = refusal_by_size(item.filename, item.content_type, item.size)
        if problem:
            raise UsageError(problem)
    images = [a for a in message.attachments if (a.content_type or "").startswith("image/")]
    wanted = [a for a in images[:MAX_IMAGES] if a.size <= MAX_IMAGE_BYTES]
    wanted += [a for a in message.attachments if a not in images]
    found: list[Attachment] = []
    for item in wanted:
        kind = item.content_type or "application/octet-stream"
        try:
            found.append(Attachment(item.filename, kind, await item.read()))
        except discord.HTTPException:
            _log.warning("discord: could not download an attachment")
            if item not in images:  # a lost picture leaves the words; a lost file would not
                name = shown_name(item.filename)
                sorry = f"I could not download {name} from Discord; send it again."
                raise UsageError(sorry) from None
    return tuple(found)
