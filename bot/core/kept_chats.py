"""Chats a channel keeps: an archived chat as /chats lists it, and a chat read from a file.

Plain values shared by the store port and the /chats command; no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.domain import Role


@dataclass(frozen=True, slots=True)
class ChatSummary:
    """One archived chat as a list shows it. `number` is its place in the list (1 = the
    one archived last); `opening` is the first thing a person said (else the first message),
    as stored: whoever shows it makes it safe."""

    number: int
    started_at: datetime | None
    ended_at: datetime | None
    message_count: int
    opening: str


@dataclass(frozen=True, slots=True)
class ChatListing:
    """The newest archived chats of a channel, and how many it has in all."""

    chats: tuple[ChatSummary, ...]
    total: int


@dataclass(frozen=True, slots=True)
class KeptVersion:
    """One version of a message: a reply's swipe, or the only text of a person's message."""

    content: str
    reasoning: str = ""


@dataclass(frozen=True, slots=True)
class KeptMessage:
    """A message of a chat brought in whole (an imported chat file): who said it, when,
    and every version of it, `shown` being the one the conversation continued from."""

    role: Role
    name: str
    sent_at: datetime
    versions: tuple[KeptVersion, ...]
    shown: int = 0

    @property
    def current(self) -> KeptVersion:
        return self.versions[self.shown]
