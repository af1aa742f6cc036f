"""What a test reads back from the fake Discord: messages, commands, interaction answers,
webhooks and uploads, as deep copies taken under the lock.

A mixin of FakeDiscord, which supplies the state and its lock; changes nothing.
"""

from __future__ import annotations

import copy
import threading

from tests.fakes.discord.events import CHANNEL_ID
from tests.fakes.discord.state import DiscordState
from tests.fakes.discord.wire import JsonDict

AUTOCOMPLETE_RESULT, MODAL = 8, 9


class Readers:
    """Read-only views of the state; every method is safe from any thread."""

    state: DiscordState
    _lock: threading.RLock

    def messages(
        self, channel_id: int = CHANNEL_ID, *, include_users: bool = False
    ) -> list[JsonDict]:
        """Messages in a channel, thread or DM as they stand now (edits applied, deletions
        gone): the bot's, webhooks' (author.username, author.avatar, avatar_url) and
        interaction responses; users' on request. Ephemeral messages are never listed: see
        `interaction_messages`. Each carries the allowed_mentions it was sent with, if any."""
        with self._lock:
            return self.state.messages(channel_id, include_users=include_users)

    def message(self, channel_id: int, message_id: int | str) -> JsonDict:
        """One message, an ephemeral one included."""
        with self._lock:
            return copy.deepcopy(self.state.visible_message(channel_id, message_id))

    def commands(self, guild_id: int | None = None) -> list[JsonDict]:
        """The synced application commands: global, or a guild's."""
        with self._lock:
            if guild_id is None:
                return copy.deepcopy(self.state.commands)
            return copy.deepcopy(self.state.guild_commands.get(guild_id, []))

    def interaction_responses(self, interaction_id: int | str) -> list[JsonDict]:
        """What the bot answered, in order: the callback {"type": 4, "data": …} (5 deferred,
        6/7 a component's update, 8 autocomplete, 9 a modal), then {"type": "followup" |
        "edit_original" | "edit_followup" | "delete_original" | "delete_followup", "data": …}."""
        with self._lock:
            return copy.deepcopy(self.state.interactions[int(interaction_id)].responses)

    def interaction_messages(self, interaction_id: int | str) -> list[JsonDict]:
        """What the user sees of the messages the interaction created, in order: the response
        (or deferral) and each followup, edits applied and deleted ones gone. Flags carry
        EPHEMERAL (64) for those only the user sees; a deferral still loading also 128."""
        with self._lock:
            interaction = self.state.interactions[int(interaction_id)]
            channel = self.state.channels[interaction.channel_id]
            found = []
            for message_id in interaction.message_ids:
                message = self.state.ephemeral.get(message_id) or channel.get(message_id)
                if message is not None:
                    found.append(copy.deepcopy(message))
            return found

    def modal_of(self, interaction_id: int | str) -> JsonDict | None:
        """The modal the bot answered with (custom_id, title, components), if it did."""
        return self._callback_data(interaction_id, MODAL)

    def autocomplete_choices(self, interaction_id: int | str) -> list[JsonDict] | None:
        """The choices ({"name", "value"}) the bot offered for an autocomplete; None until it
        answers."""
        data = self._callback_data(interaction_id, AUTOCOMPLETE_RESULT)
        return None if data is None else list(data.get("choices") or [])

    def _callback_data(self, interaction_id: int | str, kind: int) -> JsonDict | None:
        with self._lock:
            for response in self.state.interactions[int(interaction_id)].responses:
                if response["type"] == kind:
                    data: JsonDict = copy.deepcopy(response["data"])
                    return data
            return None

    def webhooks(self, channel_id: int = CHANNEL_ID) -> list[JsonDict]:
        with self._lock:
            return [
                copy.deepcopy(w)
                for w in self.state.webhooks.values()
                if w["channel_id"] == str(channel_id)
            ]

    def webhook_avatar(self, webhook_id: int | str) -> bytes | None:
        """The image last set as the webhook's avatar (create or edit); None without one."""
        with self._lock:
            return self.state.webhook_avatars.get(int(webhook_id))

    def uploaded(self, attachment_id: int | str) -> bytes:
        with self._lock:
            return self.state.uploads[int(attachment_id)].data
