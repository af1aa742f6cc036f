"""What a user does on the fake Discord: messages, edits, deletions and interactions, in a
guild's channels and threads or in a DM with the bot.

Each helper changes the state and sends the gateway event a real client would receive;
a mixin of FakeDiscord, which supplies the state, its lock and `dispatch`.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import Any

from tests.fakes.discord.interactions import (
    Fields,
    Interaction,
    build_interaction,
    check_usable_in_dm,
    command_options,
    modal_submission,
    shown_modal,
)
from tests.fakes.discord.state import DiscordState, upload
from tests.fakes.discord.wire import JsonDict

GUILD_ID = 910_000_000_000_000_001
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
        """A user writes (Alice unless `author`; in a DM, its recipient): stored, sent as
        MESSAGE_CREATE (in a DM without guild_id or member), returned.

        `mentions_bot` prefixes <@bot> and lists the bot in mentions; attachments are
        (filename, bytes) pairs served at the attachment's url.
        """
        with self._lock:
            message = self.state.user_message(
                channel_id, content, author=self._user(channel_id, author),
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
            guild_id = self.state.guild_id_of(channel_id)
            self.state.remove(self.state.message(channel_id, message_id))
        data = {"id": str(message_id), "channel_id": str(channel_id)}
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
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
        type 2. Options as {name: value} take their types from the synced command; a
        (filename, bytes) value is an attachment option, uploaded and resolved.

        In a DM channel (`dm_channel`) its recipient runs it: no guild_id, `user` instead of
        `member`, context 1; ValueError if Discord would not offer the command there."""
        with self._lock:
            guild_id = self.state.guild_id_of(channel_id)
            command = self.state.command(name, guild_id)
            if guild_id is None:
                check_usable_in_dm(command)
            typed, resolved = command_options(self.state, command, options or {})
            data = {
                "id": command["id"], "name": name, "type": command.get("type", 1),
                "options": typed,
            }  # fmt: skip
            if resolved:
                data["resolved"] = resolved
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
        """A member types into option `focused` of /name: INTERACTION_CREATE type 4. The bot's
        answer is read with `autocomplete_choices`."""
        with self._lock:
            command = self.state.command(name, self.state.guild_id_of(channel_id))
            typed, _ = command_options(self.state, command, (options or {}) | {focused: value})
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
        member_permissions: int | None = None,
    ) -> JsonDict:
        """A member (with `member_permissions` in the channel, when given) presses a button
        (or picks `values` in a select) on a stored message, an ephemeral one included:
        INTERACTION_CREATE type 3 carrying that message."""
        with self._lock:
            message = self.state.visible_message(channel_id, message_id)
            data: JsonDict = {"custom_id": custom_id, "component_type": 2}
            if values is not None:
                data |= {"component_type": 3, "values": values}
            interaction = self._interaction(3, channel_id, data, user, member_permissions, message)
        return self._send_interaction(interaction)

    def submit_modal(
        self,
        channel_id: int,
        custom_id: str,
        fields: Fields,
        *,
        user: JsonDict | int | None = None,
        member_permissions: int | None = None,
    ) -> JsonDict:
        """A member submits the modal `custom_id` that the bot showed in this channel (KeyError
        if it showed none): INTERACTION_CREATE type 5, its components shaped as the modal's
        (action rows or labels) with `fields` as values (a list for a select). An unknown field
        is a KeyError, a required text input left out a ValueError. A modal shown for a
        component carries that component's message, as on Discord."""
        with self._lock:
            shown, modal = shown_modal(self.state, channel_id, custom_id)
            data = {"custom_id": custom_id, "components": modal_submission(modal, fields)}
            message = shown.payload.get("message")
            if message is not None:
                message = self.state.visible_message(channel_id, message["id"])
            interaction = self._interaction(5, channel_id, data, user, member_permissions, message)
        return self._send_interaction(interaction)

    def _interaction(
        self, kind: int, channel_id: int, data: JsonDict, user: JsonDict | int | None,
        member_permissions: int | None, message: JsonDict | None = None,
    ) -> Interaction:  # fmt: skip
        return build_interaction(
            self.state, kind, channel_id, data, user=self._user(channel_id, user),
            member_permissions=member_permissions, message=message,
        )  # fmt: skip

    def _user(self, channel_id: int, user: JsonDict | int | None) -> JsonDict:
        """The given user, else the DM's recipient in a DM, else Alice; in a DM only its
        recipient can write (ValueError)."""
        recipient = self.state.dm_recipient(channel_id)
        if recipient is None:
            return self.state.user(user, ALICE_ID)
        found = self.state.user(user, int(recipient["id"]))
        if found["id"] != recipient["id"]:
            raise ValueError(f"only user {recipient['id']} writes in DM channel {channel_id}")
        return found

    def _send_interaction(self, interaction: Interaction) -> JsonDict:
        payload = copy.deepcopy(interaction.payload)
        self.dispatch("INTERACTION_CREATE", payload)
        return payload
