"""How a test furnishes the fake Discord: guilds, members, channels, threads and DMs.

A mixin of FakeDiscord, which supplies the state, its lock and `announce` (a dispatch sent
only once a client is connected); knows nothing of HTTP.
"""

from __future__ import annotations

import copy
import threading

from tests.fakes.discord.events import ALICE_ID, GUILD_ID
from tests.fakes.discord.state import DiscordState
from tests.fakes.discord.wire import ADMINISTRATOR, JsonDict


class Setup:
    """Configuration; every method is safe from any thread."""

    state: DiscordState
    _lock: threading.RLock

    def announce(self, event: str, data: JsonDict) -> bool:
        raise NotImplementedError

    def add_channel(self, channel_id: int, name: str, *, guild_id: int = GUILD_ID) -> JsonDict:
        """A text channel; add it before the bot connects (no CHANNEL_CREATE is sent)."""
        with self._lock:
            return copy.deepcopy(self.state.add_channel(guild_id, channel_id, name))

    def add_thread(
        self,
        parent_id: int,
        thread_id: int,
        name: str,
        *,
        guild_id: int = GUILD_ID,
        owner_id: int = ALICE_ID,
    ) -> JsonDict:
        """An active public thread (type 11) under text channel `parent_id`: in GUILD_CREATE's
        `threads` if added before the bot connects, else announced with THREAD_CREATE
        (newly_created, so discord.py calls on_thread_create)."""
        with self._lock:
            thread = copy.deepcopy(
                self.state.add_thread(guild_id, parent_id, thread_id, name, owner_id=owner_id)
            )
        self.announce("THREAD_CREATE", thread | {"newly_created": True})
        return thread

    def dm_channel(self, user_id: int) -> int:
        """The id of the bot's DM channel with the user, opened on first use; the same one
        POST /users/@me/channels (discord.py's user.create_dm()) answers. Discord sends no
        CHANNEL_CREATE for a DM: the client learns of it from its first message."""
        with self._lock:
            return int(self.state.dm_channel(user_id)["id"])

    def add_member(
        self, user_id: int, username: str, *, permissions: int = 0, guild_id: int = GUILD_ID
    ) -> JsonDict:
        """A member whose own role grants `permissions` (e.g. MANAGE_GUILD = 1 << 5)."""
        with self._lock:
            self.state.add_member(guild_id, user_id, username, permissions=permissions)
            return copy.deepcopy(self.state.users[user_id])

    def add_guild(self, guild_id: int, name: str, *, owner_id: int = ALICE_ID) -> None:
        """Another guild, with the bot in it as ADMINISTRATOR; add channels with add_channel."""
        with self._lock:
            self.state.add_guild(guild_id, name, owner_id=owner_id)
            self.state.add_member(
                guild_id, int(self.state.bot["id"]), self.state.bot["username"],
                permissions=ADMINISTRATOR, bot=True,
            )  # fmt: skip
