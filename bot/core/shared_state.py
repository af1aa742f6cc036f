"""Short-lived state that every process of the bot must see alike: one-time links, codes,
which reply is a channel's latest. The port, and an in-process stand-in for a bot without
a database (and for tests of a single process).

Values are text whose format belongs to the caller. An entry expires `ttl` seconds after
it is put (by the implementation's wall clock: monotonic clocks differ between processes)
and is then gone for every reader. `owner` names the person an entry is about
("<platform>:<user id>"), so that /forget can erase it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


def owner_of(platform: str, user_id: str) -> str:
    """How an entry names the person it is about."""
    return f"{platform}:{user_id}"


class SharedState(Protocol):
    """Entries by (kind, key) with an expiry, shared by every process on one database.
    Raises StorageError."""

    async def put(
        self, kind: str, key: str, value: str, *, ttl: float, owner: str | None = None
    ) -> None:
        """Keep `value` for `ttl` seconds, replacing what the key held."""
        ...

    async def get(self, kind: str, key: str) -> str | None:
        """The key's value, None when absent or expired."""
        ...

    async def take(self, kind: str, key: str) -> str | None:
        """The key's value, removed: of two processes taking at once, one gets it."""
        ...

    async def claim(self, kind: str, key: str, *, ttl: float, value: str = "") -> bool:
        """Put `value` for `ttl` seconds only if the key holds nothing unexpired; whether
        this call put it. Of two processes claiming at once, exactly one gets True."""
        ...

    async def delete(self, kind: str, key: str) -> bool:
        """Remove the key; whether it held an unexpired value."""
        ...

    async def delete_owned(self, kind: str, owner: str) -> int:
        """Remove every unexpired entry of `kind` about `owner` (/forget); how many."""
        ...


@dataclass(frozen=True, slots=True)
class _Entry:
    value: str
    expires_at: datetime
    owner: str | None


class MemorySharedState:
    """SharedState in this process's memory: for one process only, forgotten at restart.
    Expired entries are dropped as they are met, and all of them at each put."""

    def __init__(self, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._now = now
        self._entries: dict[tuple[str, str], _Entry] = {}

    async def put(
        self, kind: str, key: str, value: str, *, ttl: float, owner: str | None = None
    ) -> None:
        now = self._now()
        self._entries = {name: e for name, e in self._entries.items() if e.expires_at > now}
        self._entries[kind, key] = _Entry(value, now + timedelta(seconds=ttl), owner)

    async def claim(self, kind: str, key: str, *, ttl: float, value: str = "") -> bool:
        if self._live(kind, key) is not None:
            return False
        await self.put(kind, key, value, ttl=ttl)
        return True

    async def get(self, kind: str, key: str) -> str | None:
        entry = self._live(kind, key)
        return entry.value if entry is not None else None

    async def take(self, kind: str, key: str) -> str | None:
        entry = self._live(kind, key)
        self._entries.pop((kind, key), None)
        return entry.value if entry is not None else None

    async def delete(self, kind: str, key: str) -> bool:
        return await self.take(kind, key) is not None

    async def delete_owned(self, kind: str, owner: str) -> int:
        now = self._now()
        gone = [
            name
            for name, entry in self._entries.items()
            if name[0] == kind and entry.owner == owner and entry.expires_at > now
        ]
        for name in gone:
            del self._entries[name]
        return len(gone)

    def _live(self, kind: str, key: str) -> _Entry | None:
        entry = self._entries.get((kind, key))
        if entry is not None and entry.expires_at <= self._now():
            del self._entries[kind, key]
            return None
        return entry
