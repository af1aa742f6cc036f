"""What a user does on the fake Discord: messages, edits, deletions and interactions.

Each helper changes the state and sends the gateway event a real client would receive;
a mixin of FakeDiscord, which supplies the state, its lock and `dispatch`.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from tests.fakes.discord_state import DiscordState, Interaction, command_options, upload
from tests.fakes.discord_wire import JsonDict

CHANNEL_ID = 920_000_000_000_000_001
ALICE_ID = 930_000_000_000_000_001


class UserEvents:
    """The test's side of the conversation; every method is safe from any thread."""

    state: DiscordState
    _lock: threading.RLock

    def dispatch(self, event: str, data: JsonDict) -> None:
        raise NotImplementedError

    def user_message(
        self,
        channel_id: int = CHANNEL_ID,
        content: str = "",
        *,
        author: JsonDict | int | None = None,
        mentions_bot: bool = False,
        reply_to: int | str | None = None,
        attachments: list[tuple[str, bytes]] | None = None,
    ) -> JsonDict:
        """A user writes (Alice unless `author`): stored, sent as MESSAGE_CREATE, returned.

        `mentions_bot` prefixes <@bot> and lists the bot in mentions; attachments are
        (filename, bytes) pairs served at the attachment's url.
        """
        with self._lock:
            message = self.state.user_message(
                channel_id, content, author=self.state.user(author, ALICE_ID),
                mentions_bot=mentions_bot, reply_to=None if reply_to is None else int(reply_to),
                uploads=[upload(name, data) for name, data in attachments or []],
            )  # fmt: skip
            message = copy.deepcopy(message)
        self.dispatch("MESSAGE_CREATE", message)
        return message

    def edit_user_message(self, channel_id: int, message_id: int | str, content: str) -> JsonDict:
        """A user edits their message: MESSAGE_UPDATE with the whole message."""
        with self._lock:
            message = self.state.message(channel_id, message_id)
            message["content"] = content
            message["edited_timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())
            message = copy.deepcopy(message)
        self.dispatch("MESSAGE_UPDATE", message)
        return message

    def delete_user_message(self, channel_id: int, message_id: int | str) -> None:
        """A message disappears (its author or a moderator deleted it): MESSAGE_DELETE."""
        with self._lock:
            guild = self.state.guild_of(channel_id)
            self.state.message(channel_id, message_id)
            del self.state.channels[channel_id][int(message_id)]
        data = {"id": str(message_id), "channel_id": str(channel_id), "guild_id": str(guild.id)}
        self.dispatch("MESSAGE_DELETE", data)

    def slash_command(
        self,
        channel_id: int = CHANNEL_ID,
        name: str = "",
        options: dict[str, Any] | list[JsonDict] | None = None,
        *,
        user: JsonDict | int | None = None,
        member_permissions: int | None = None,
    ) -> JsonDict:
        """A member runs a synced /command (KeyError if the bot never synced it): INTERACTION_CREATE
        type 2. Options as {name: value} take their types from the synced command."""
        with self._lock:
            guild_id = self.state.guild_of(channel_id).id
            command = self.state.command(name, guild_id)
            data = {
                "id": command["id"], "name": name, "type": command.get("type", 1),
                "options": command_options(command, options or {}),
            }  # fmt: skip
            if "guild_id" in command:
                data["guild_id"] = command["guild_id"]
            interaction = self._interaction(2, channel_id, data, user, member_permissions)
        return self._send_interaction(interaction)

    def autocomplete(
        self,
        channel_id: int,
        name: str,
        focused: str,
        value: str,
        *,
        options: dict[str, Any] | None = None,
        user: JsonDict | int | None = None,
    ) -> JsonDict:
        """A member types into option `focused` of /name: INTERACTION_CREATE type 4."""
        with self._lock:
            command = self.state.command(name, self.state.guild_of(channel_id).id)
            typed = command_options(command, (options or {}) | {focused: value})
            for option in typed:
                if option["name"] == focused:
                    option["focused"] = True
            data = {"id": command["id"], "name": name, "type": 1, "options": typed}
            interaction = self._interaction(4, channel_id, data, user, None)
        return self._send_interaction(interaction)

    def press_button(
        self,
        channel_id: int,
        message_id: int | str,
        custom_id: str,
        *,
        user: JsonDict | int | None = None,
        values: list[str] | None = None,
    ) -> JsonDict:
        """A member presses a button (or picks `values` in a select) on a stored message:
        INTERACTION_CREATE type 3 carrying that message."""
        with self._lock:
            message = self.state.message(channel_id, message_id)
            data: JsonDict = {"custom_id": custom_id, "component_type": 2}
            if values is not None:
                data |= {"component_type": 3, "values": values}
            interaction = self._interaction(3, channel_id, data, user, None, message)
        return self._send_interaction(interaction)

    def submit_modal(
        self,
        channel_id: int,
        custom_id: str,
        fields: dict[str, str],
        *,
        user: JsonDict | int | None = None,
    ) -> JsonDict:
        """A member submits a modal: INTERACTION_CREATE type 5, one text input per row."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
            for key, value in fields.items()
        ]
        with self._lock:
            data = {"custom_id": custom_id, "components": rows}
            interaction = self._interaction(5, channel_id, data, user, None)
        return self._send_interaction(interaction)

    def _interaction(
        self, kind: int, channel_id: int, data: JsonDict, user: JsonDict | int | None,
        member_permissions: int | None, message: JsonDict | None = None,
    ) -> Interaction:  # fmt: skip
        return self.state.interaction(
            kind, channel_id, data, user=self.state.user(user, ALICE_ID),
            member_permissions=member_permissions, message=message,
        )  # fmt: skip

    def _send_interaction(self, interaction: Interaction) -> JsonDict:
        payload = copy.deepcopy(interaction.payload)
        self.dispatch("INTERACTION_CREATE", payload)
        return payload
