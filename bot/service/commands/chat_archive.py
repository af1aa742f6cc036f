"""/chats: the channel's archived chats listed, one reopened, or a SillyTavern chat imported.

Anyone may look at the list; reopening and importing change the conversation everyone here
continues, so they need the right /reset needs. The file format is read in
`service.chatreader`; the rows are written by the store, one transaction each.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from bot.core.commands import parse_integer
from bot.core.domain import CommandCall, CommandResult, Permission
from bot.core.errors import PermissionDenied, UsageError
from bot.core.kept_chats import ChatSummary
from bot.core.ports import Store
from bot.core.untrusted import safe_to_show
from bot.prompt.assemble import ASSISTANT_NAME
from bot.service.chatreader import read_chat_file
from bot.service.commands.registry import answers
from bot.service.turns.prompting import PromptFactory

MAX_ANSWER_CHARS = 2000
"""One message on every platform: Discord's limit, the smallest."""
LISTED = 25
"""Chats read for one list; far more than fit in one message, which then says how many more."""
OPENING_CHARS = 60
"""How much of a chat's first line is shown: enough to recognise it, short enough for a list."""
HIGHEST_NUMBER = 1_000_000
NO_CHATS = (
    "No archived chats here yet. /reset archives this conversation; sending a SillyTavern "
    "chat file (.jsonl) with /chats imports one."
)


class ChatArchiveCommands:
    """/chats: list, `open:N` to reopen, or a chat file to import."""

    def __init__(
        self, *, store: Store, prompts: PromptFactory, wall_clock: Callable[[], datetime]
    ) -> None:
        """`wall_clock` dates an imported message that carries no date of its own."""
        self._store = store
        self._prompts = prompts
        self._wall_clock = wall_clock
        self._reading = asyncio.Semaphore(1)

    @answers("chats")
    async def _chats(self, call: CommandCall) -> CommandResult:
        raw = call.options.get("open", "").strip()
        if raw and call.attachments:
            raise UsageError("Give open:N to reopen a chat, or a file to import one; not both.")
        if not raw and not call.attachments:
            return await self._list(call)
        what = "Reopening a chat" if raw else "Importing a chat"
        if call.actor.permission < Permission.CHANNEL_ADMIN:
            raise PermissionDenied(f"{what} needs the right to manage this channel.")
        if raw:
            return await self._reopen(call, parse_integer("open", raw, low=1, high=HIGHEST_NUMBER))
        return await self._import(call)

    async def _list(self, call: CommandCall) -> CommandResult:
        listing = await self._store.archived_chats(call.channel, limit=LISTED)
        if not listing.chats:
            return CommandResult(NO_CHATS)
        head = "Archived chats here, the last archived first (times UTC):"
        foot = "Reopen one with /chats open:N (this conversation is archived in its place)."
        lines = [head]
        shown = 0
        for chat in listing.chats:
            line = f"{chat.number}. {_described(chat)}"
            more = _more(listing.total - shown - 1)
            if _length([*lines, line, more, foot]) > MAX_ANSWER_CHARS:
                break
            lines.append(line)
            shown += 1
        if rest := _more(listing.total - shown):
            lines.append(rest)
        lines.append(foot)
        return CommandResult("\n".join(lines))

    async def _reopen(self, call: CommandCall, number: int) -> CommandResult:
        state = await self._store.load_channel(call.channel)
        had_messages = bool(await self._store.history(state.chat_id, limit=1))
        reopened = await self._store.reopen_chat(call.channel, number)
        if reopened is None:
            listing = await self._store.archived_chats(call.channel, limit=0)
            if not listing.total:
                return CommandResult(NO_CHATS)
            return CommandResult(
                f"There is no archived chat {number} here; there are {listing.total}. "
                "/chats lists them. Nothing was changed."
            )
        before = " The conversation before it is archived: /chats lists it." * had_messages
        return CommandResult(
            f"Reopened chat {number}: {_described(reopened)}\nWe carry on from its last "
            f"message.{before}",
            ephemeral=False,
        )

    async def _import(self, call: CommandCall) -> CommandResult:
        file = call.attachments[0]
        async with self._reading:  # off the event loop, one file at a time, as cards are read
            read = await asyncio.to_thread(
                read_chat_file, file.data, filename=file.filename, received_at=self._wall_clock()
            )
        state = await self._store.load_channel(call.channel)
        had_messages = bool(await self._store.history(state.chat_id, limit=1))
        await self._store.import_chat(call.channel, read.messages)
        count = len(read.messages)
        lines = [f"Imported {count} message{'s' * (count != 1)}; we carry on from the last one."]
        if read.hidden:
            lines.append(
                f"{read.hidden} hidden message(s) were left out, as the model never read them."
            )
        if had_messages:
            lines.append("The conversation before it is archived: /chats lists it.")
        card = await self._prompts.character(state)
        here = card.name if card is not None else ASSISTANT_NAME
        if read.character and read.character.casefold() != here.casefold():
            lines.append(
                f"The file's character is {_shown(read.character)}, and this channel's is "
                f"{_shown(here)}: /character use changes who speaks."
            )
        return CommandResult("\n".join(lines), ephemeral=False)


def _described(chat: ChatSummary) -> str:
    count = f"{chat.message_count} message{'s' * (chat.message_count != 1)}"
    parts = [_span(chat.started_at, chat.ended_at), count]
    if opening := _opening(chat.opening):
        parts.append(f"“{opening}”")
    return " · ".join(part for part in parts if part)


def _span(started: datetime | None, ended: datetime | None) -> str:
    if started is None or ended is None:
        return ""
    start = started.strftime("%Y-%m-%d %H:%M")
    if start == ended.strftime("%Y-%m-%d %H:%M"):
        return start
    if started.date() == ended.date():
        return f"{start} to {ended:%H:%M}"
    return f"{start} to {ended:%Y-%m-%d %H:%M}"


def _opening(text: str) -> str:
    """The first non-blank line, safe to show (no controls, no reordering), cut short."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    line = safe_to_show(first).strip()
    return line if len(line) <= OPENING_CHARS else line[: OPENING_CHARS - 1].rstrip() + "…"


def _shown(name: str) -> str:
    return safe_to_show(name).strip()[:OPENING_CHARS] or "unnamed"


def _more(count: int) -> str:
    return f"…and {count} older." if count > 0 else ""


def _length(lines: list[str]) -> int:
    return len("\n".join(line for line in lines if line))
