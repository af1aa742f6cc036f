"""What people send the bot, beyond text: images for vision models, and API keys typed
where they must not be, which go nowhere (not to the model, not into the history)."""

from __future__ import annotations

import logging

import discord

from bot.domain import Attachment

_log = logging.getLogger(__name__)

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MAX_IMAGES = 4
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


async def pictures(message: discord.Message) -> tuple[Attachment, ...]:
    """The message's images, for vision models; others (and oversized ones) are left out."""
    found: list[Attachment] = []
    for item in message.attachments[:MAX_IMAGES]:
        kind = item.content_type or ""
        if not kind.startswith("image/") or item.size > MAX_IMAGE_BYTES:
            continue
        try:
            found.append(Attachment(item.filename, kind, await item.read()))
        except discord.HTTPException:
            _log.warning("discord: could not download an image")
    return tuple(found)
