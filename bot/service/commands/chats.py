"""/export: the channel's current conversation as a file its people can keep.

What is exported is what the conversation was: the messages the model reads again
(`is_prompt_history`), so a stopped reply keeps its text and a failed one is left out,
with each reply's kept versions as its swipes. The formats live in `service.chatfiles`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from bot.core.commands import EXPORT_FORMATS
from bot.core.domain import (
    Attachment,
    ChatId,
    CommandCall,
    CommandResult,
    MessageId,
    Role,
    StoredMessage,
)
from bot.core.ports import Store
from bot.prompt.assemble import ASSISTANT_NAME, is_prompt_history
from bot.service.chatfiles import ChatLine, export_title, markdown_transcript, sillytavern_jsonl
from bot.service.commands.registry import answers
from bot.service.turns.prompting import PromptFactory

MIB = 1024 * 1024
MAX_EXPORT_BYTES = 10 * MIB
"""The largest file /export sends: Discord's upload limit for bots (10 MiB, unless a server's
boosts raise it, which a bot cannot count on), the smallest of our platforms (Telegram bots
send documents up to 50 MB; the console writes a file). Discord counts the file itself."""
PAGE = 500
"""Messages read at a time: a long chat is read in pages, as the prompt builder reads it."""
NOTHING_TO_EXPORT = "There is nothing to export yet: this conversation has no messages."
USER_NAME = "User"
"""A message stored without its author's name (none are written so now)."""


class ChatCommands:
    """/export: this channel's conversation as SillyTavern chat JSONL or Markdown."""

    def __init__(
        self, *, store: Store, prompts: PromptFactory, wall_clock: Callable[[], datetime]
    ) -> None:
        """`wall_clock` dates the file (its name, and messages without a date of their own)."""
        self._store = store
        self._prompts = prompts
        self._wall_clock = wall_clock

    @answers("export")
    async def _export(self, call: CommandCall) -> CommandResult:
        form = call.options.get("format", "").strip().lower() or EXPORT_FORMATS[0]
        state = await self._store.load_channel(call.channel)
        card = await self._prompts.character(state)
        character = card.name if card is not None else ASSISTANT_NAME
        messages = [m for m in await self._whole_chat(state.chat_id) if is_prompt_history(m)]
        if not messages:
            return CommandResult(NOTHING_TO_EXPORT)
        versions = await self._store.alternatives(state.chat_id)
        lines = [_line(m, versions, character=character) for m in messages]
        now = self._wall_clock()
        title = export_title(character, now.date())

        def render(part: Sequence[ChatLine]) -> bytes:
            if form == "markdown":
                return markdown_transcript(part, title=title).encode()
            return sillytavern_jsonl(part, character=character, exported_at=now).encode()

        # Rendering a long chat takes a while, several times when it must be cut: not on the loop.
        data, kept = await asyncio.to_thread(
            newest_that_fit, lines, render, max_bytes=MAX_EXPORT_BYTES
        )
        if not kept:
            return CommandResult(
                f"The last message here alone is larger than {MAX_EXPORT_BYTES // MIB} MB, the "
                "largest file every platform takes, so I can't send this conversation."
            )
        if form == "markdown":
            file = Attachment(f"{title}.md", "text/markdown", data)
        else:
            file = Attachment(f"{title}.jsonl", "application/jsonl", data)
        how = "Markdown" if form == "markdown" else "a SillyTavern chat file (Import chat there)"
        if kept == len(lines):
            said = f"This conversation with {character}, {_count(kept)}, as {how}."
        else:
            said = (
                f"This conversation with {character} has {_count(len(lines))}: too many for "
                f"one file of {MAX_EXPORT_BYTES // MIB} MB, the most every platform takes. "
                f"Here are the newest {_count(kept)}, as {how}."
            )
        return CommandResult(said, file=file)

    async def _whole_chat(self, chat_id: ChatId) -> list[StoredMessage]:
        pages: list[list[StoredMessage]] = []
        before: MessageId | None = None
        while True:
            page = await self._store.history(chat_id, limit=PAGE, before=before)
            pages.append(page)
            if len(page) < PAGE:
                break
            before = page[0].id
        return [message for page in reversed(pages) for message in page]


def newest_that_fit(
    lines: Sequence[ChatLine], render: Callable[[Sequence[ChatLine]], bytes], *, max_bytes: int
) -> tuple[bytes, int]:
    """The file of the newest lines that fits in `max_bytes`, and how many lines it holds.

    A chat too large for one upload gives its newest part rather than nothing: that is the
    part people reopen and carry on (a chat file starting mid-way still opens in SillyTavern),
    and /export has no other way to get a long chat out. The answer says what was left out.
    The fit is found by halving, each try rendering the file once. (b"", 0) when not even
    the newest line fits.
    """
    whole = render(lines)
    if len(whole) <= max_bytes:
        return whole, len(lines)
    best = render(lines[-1:])
    if len(best) > max_bytes:
        return b"", 0
    fits, too_many = 1, len(lines)  # fits: a count known to fit; too_many: one known not to
    while too_many - fits > 1:
        middle = (fits + too_many) // 2
        candidate = render(lines[-middle:])
        if len(candidate) <= max_bytes:
            fits, best = middle, candidate
        else:
            too_many = middle
    return best, fits


def _count(number: int) -> str:
    return f"{number:,} message{'s' if number != 1 else ''}"


def _line(
    message: StoredMessage,
    versions: Mapping[MessageId, Sequence[StoredMessage]],
    *,
    character: str,
) -> ChatLine:
    if message.role is not Role.ASSISTANT:
        return ChatLine(
            name=message.author_name or USER_NAME,
            is_user=True,
            text=message.content,
            sent_at=message.created_at,
        )
    said = [v for v in versions.get(message.id, ()) if is_prompt_history(v)]
    shown = next((i for i, v in enumerate(said) if v.swipe_index == message.swipe_index), None)
    if shown is None:  # the shown version is the only one said
        said, shown = [message], 0
    return ChatLine(
        name=message.author_name or character,  # a reply keeps its name only when imported
        is_user=False,
        text=message.content,
        sent_at=message.created_at,
        reasoning=message.reasoning,
        swipes=tuple(v.content for v in said),
        swipe_id=shown,
        swipe_reasonings=tuple(v.reasoning for v in said),
    )
