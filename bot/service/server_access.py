"""A server's /access rules as the service reads them: from the store, briefly remembered.

Every message addressed to the bot in a server asks for its rules, so they are remembered
for `FRESH_SECONDS`: this process sees its own /access changes at once (the command goes
through `changed`), another process's within that time. A server without rules is
remembered too, which is what almost every read is.
"""

from __future__ import annotations

from collections import OrderedDict

from bot.core.ports import AccessRules, Clock
from bot.core.server_access import ServerRules

FRESH_SECONDS = 30.0
SERVERS_KEPT = 10_000
"""At most this many servers' rules are remembered; the least recently read go first."""

_Server = tuple[str, str]


class ServerAccess:
    """The one owner of the remembered rules: reads through it, changes through `changed`."""

    def __init__(self, rules: AccessRules, clock: Clock, *, capacity: int = SERVERS_KEPT) -> None:
        self.store = rules
        self._clock = clock
        self._capacity = capacity
        self._kept: OrderedDict[_Server, tuple[float, ServerRules]] = OrderedDict()

    async def rules(self, platform: str, server: str) -> ServerRules:
        """The server's rules, read from the store at most once per FRESH_SECONDS."""
        key = (platform, server)
        now = self._clock.now()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < FRESH_SECONDS:
            self._kept.move_to_end(key)
            return kept[1]
        rules = await self.store.rules(platform, server)
        self._kept[key] = (now, rules)
        self._kept.move_to_end(key)
        while len(self._kept) > self._capacity:
            self._kept.popitem(last=False)
        return rules

    def changed(self, platform: str, server: str) -> None:
        """The server's rules were just changed here: the next read goes to the store."""
        self._kept.pop((platform, server), None)
