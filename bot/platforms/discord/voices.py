"""Characters speak through one webhook per channel, wearing the character's avatar.

Discord takes a per-message avatar only as a URL, and a card's avatar is an image we hold,
not a URL Discord could fetch; so the webhook itself wears the avatar, set when the
character changes (one request, not one per reply), and each message names the character.
Without Manage Webhooks, or when Discord refuses, the bot speaks as itself.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

import discord

from bot.characters.stored import StoredCharacter
from bot.platforms.discord.replier import Voice

_log = logging.getLogger(__name__)

WEBHOOK_NAME = "Parlor"


class Voices:
    """The webhook each channel's character speaks through, found or made once."""

    def __init__(self, client: discord.Client) -> None:
        self._client = client
        self._hooks: dict[int, discord.Webhook | None] = {}  # channel -> webhook (None: none)
        self._worn: dict[int, str] = {}  # webhook -> digest of the avatar it wears
        self._locks: dict[int, asyncio.Lock] = {}

    async def voice(self, channel: object, character: StoredCharacter | None) -> Voice:
        """How a reply in `channel` speaks: the character through the webhook of the
        channel (of a thread's parent), or the bot with the character's name in bold."""
        if character is None:
            return Voice()
        home = channel.parent if isinstance(channel, discord.Thread) else channel
        if not isinstance(home, discord.TextChannel | discord.ForumChannel | discord.VoiceChannel):
            return Voice(character.name)  # DMs and the like have no webhooks
        async with self._locks.setdefault(home.id, asyncio.Lock()):
            webhook = await self._webhook(home)
            if webhook is not None and not await self._wear(webhook, character):
                self.forget(home.id)
                webhook = None
        return Voice(character.name, webhook)

    def forget(self, channel_id: int) -> None:
        """The webhook was deleted: look again next time."""
        hook = self._hooks.pop(channel_id, None)
        if hook is not None:
            self._worn.pop(hook.id, None)

    def is_ours(self, webhook_id: int | None) -> bool:
        return webhook_id is not None and any(
            hook is not None and hook.id == webhook_id for hook in self._hooks.values()
        )

    async def _webhook(
        self, home: discord.TextChannel | discord.ForumChannel | discord.VoiceChannel
    ) -> discord.Webhook | None:
        if home.id in self._hooks:
            return self._hooks[home.id]
        hook: discord.Webhook | None = None
        if home.permissions_for(home.guild.me).manage_webhooks:
            try:
                hook = await self._find_or_make(home)
            except discord.HTTPException as exc:
                _log.warning("discord: no webhook here (HTTP %s); replying as the bot", exc.status)
        self._hooks[home.id] = hook
        return hook

    async def _find_or_make(
        self, home: discord.TextChannel | discord.ForumChannel | discord.VoiceChannel
    ) -> discord.Webhook:
        me = self._client.user
        for hook in await home.webhooks():
            if hook.user is not None and me is not None and hook.user.id == me.id and hook.token:
                return hook
        return await home.create_webhook(name=WEBHOOK_NAME, reason="Characters speak through it")

    async def _wear(self, webhook: discord.Webhook, character: StoredCharacter) -> bool:
        """Put the character's avatar on the webhook, unless it already wears it. False when
        Discord refuses (the reply then goes out as the bot)."""
        avatar = character.avatar
        digest = hashlib.sha256(avatar or b"").hexdigest()
        if self._worn.get(webhook.id) == digest:
            return True
        try:
            await webhook.edit(avatar=avatar, reason=f"Speaking as {character.name}")
        except ValueError:  # an image type Discord does not take
            _log.info("discord: the character's avatar is not PNG, JPEG, GIF or WebP; none shown")
            try:
                await webhook.edit(avatar=None)
            except discord.HTTPException:
                return False
        except discord.HTTPException as exc:
            _log.warning("discord: could not set the webhook's avatar (HTTP %s)", exc.status)
            return exc.status != 404
        self._worn[webhook.id] = digest
        return True
