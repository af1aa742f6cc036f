"""Builds a turn's prompt: the channel's character and the speaker's persona, the history
read newest first page by page until the context is full, fitted and counted.

The cost does not grow with the length of the chat: only as many pages are read as the
context can hold, and stored messages keep their token counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.characters.card import CharacterCard
from bot.characters.stored import StoredCharacter
from bot.core.domain import (
    ChannelState,
    ChatMessage,
    Connection,
    MessageId,
    NewUserMessage,
    Persona,
    Role,
    StoredMessage,
)
from bot.core.ports import Characters, Personas, Store
from bot.prompt.assemble import (
    ASSISTANT_NAME,
    Draft,
    Scene,
    draft,
    history_message,
    is_prompt_history,
    with_images,
)
from bot.prompt.budget import Counted, FittedPrompt, PromptParts, fit
from bot.prompt.macros import MacroContext
from bot.service.turns.tokens import TokenBook

DEFAULT_CONTEXT_SIZE = 8192
DEFAULT_REPLY_RESERVE = 512


@dataclass(frozen=True, slots=True)
class Speaker:
    """Who the turn answers: their id on the platform and the name it shows."""

    user_id: str
    display_name: str


@dataclass(frozen=True, slots=True)
class BuiltPrompt:
    messages: tuple[ChatMessage, ...]
    user_name: str  # {{user}}: the speaker's persona, else their display name
    char_name: str  # {{char}}
    fitted: FittedPrompt


@dataclass(slots=True)
class _FitJob:
    """One prompt build: what stays the same while older pages of history are read."""

    state: ChannelState
    connection: Connection
    model: str
    fixed: Draft
    newest: ChatMessage | None
    personas: dict[str, Persona]
    named: bool
    fresh: dict[MessageId, int] = field(default_factory=dict)  # counted during this build


@dataclass(frozen=True, slots=True)
class Budget:
    """The context the operator expects when a channel has not said (/params context_size).

    However big the context, no more than `max_messages` stored messages are read for one
    prompt; they are read `page_size` at a time, newest first.
    """

    context_size: int = DEFAULT_CONTEXT_SIZE
    reply_reserve: int = DEFAULT_REPLY_RESERVE
    max_messages: int = 1000
    page_size: int = 200


class PromptFactory:
    """Builds each turn's prompt from the channel's character, the speaker and the history."""

    def __init__(
        self,
        *,
        store: Store,
        characters: Characters,
        personas: Personas,
        tokens: TokenBook,
        budget: Budget,
        wall_clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._characters = characters
        self._personas = personas
        self._tokens = tokens
        self._budget = budget
        self._wall_clock = wall_clock

    async def character(self, state: ChannelState) -> CharacterCard | None:
        stored = await self.stored_character(state)
        return None if stored is None else stored.card

    async def stored_character(self, state: ChannelState) -> StoredCharacter | None:
        """The channel's character with its avatar, for platforms that show it."""
        if state.character_id is None:
            return None
        return await self._characters.character(state.character_id)

    async def persona(self, platform: str, user_id: str) -> Persona | None:
        return (await self._personas.personas(platform, [user_id])).get(user_id)

    def greeting_macros(self, card: CharacterCard, user: str) -> MacroContext:
        """The macros of a greeting: written before its chat exists, so no seed of its own."""
        return MacroContext(char=card.char_name, user=user, now=self._wall_clock())

    async def build(
        self,
        state: ChannelState,
        connection: Connection,
        model: str,
        *,
        speaker: Speaker,
        new: NewUserMessage | None = None,
        before: MessageId | None = None,
        continuing: bool = False,
    ) -> BuiltPrompt:
        """The prompt answering `new`, or (without it) the history up to `before`.

        Regenerating passes the reply being replaced as `before`; continuing passes
        `continuing=True` and the history ends with the reply to extend.
        """
        limit = min(self._budget.page_size, self._budget.max_messages)
        page = await self._store.history(state.chat_id, limit=limit, before=before)
        personas = await self._personas_of(state, speaker, page)
        persona = personas.get(speaker.user_id)
        user_name = persona.name if persona else speaker.display_name
        card = await self.character(state)
        char_name = card.char_name if card else ASSISTANT_NAME
        people = _group_names(page, speaker, personas, user_name)
        macros = MacroContext(
            char=char_name,
            user=user_name,
            now=self._wall_clock(),
            seed=int(state.chat_id),
            model=model,
            group=_cast(char_name, people),
        )
        scene = Scene(
            macros,
            system_prompt=state.system_prompt,
            character=card,
            persona_description=persona.description if persona else "",
        )
        fixed = draft(scene, continuing=continuing)
        named = len(people) > 1
        newest = _new_message(new, user_name if named else None)
        job = _FitJob(
            state=state,
            connection=connection,
            model=model,
            fixed=fixed,
            newest=newest,
            personas=personas,
            named=named,
        )
        stored = list(page)
        while True:
            fitted = await self._fit(job, stored)
            left = self._budget.max_messages - len(stored)
            read_all = len(page) < limit or left <= 0
            if read_all or fitted.history_kept < _usable(stored, newest):
                break
            limit = min(self._budget.page_size, left)  # never past max_messages
            page = await self._store.history(state.chat_id, limit=limit, before=stored[0].id)
            if not page:
                break
            # Names only: whether the chat counts as a group was settled by the newest page.
            job.personas.update(await self._personas_of(state, speaker, page))
            stored = [*page, *stored]
        return BuiltPrompt(fitted.messages, user_name, char_name, fitted)

    async def _fit(self, job: _FitJob, stored: Sequence[StoredMessage]) -> FittedPrompt:
        connection, model, fixed, newest = job.connection, job.model, job.fixed, job.newest
        personas, named, state = job.personas, job.named, job.state
        blocks = [message for block in fixed.example_blocks for message in block]
        header = [] if fixed.chat_header is None else [fixed.chat_header]
        extra = [] if newest is None else [newest]
        everything = [
            *fixed.before,
            fixed.example_header,
            *blocks,
            *header,
            *fixed.after,
            *extra,
        ]
        # The fixed texts first: counting them names the tokenizer, which tells whether the
        # counts stored with the history can be reused.
        costs = dict(
            zip(
                map(id, everything),
                await self._tokens.costs(connection, model, everything),
                strict=True,
            )
        )
        usable = [m for m in stored if is_prompt_history(m)]
        sent = [
            history_message(m, speaker_name=_name_of(m, personas) if named else None)
            for m in usable
        ]
        history = [
            Counted(message, cost)
            for message, cost in zip(
                sent,
                await self._tokens.stored_costs(connection, model, usable, sent, fresh=job.fresh),
                strict=True,
            )
        ]

        def counted(messages: Sequence[ChatMessage]) -> list[Counted]:
            return [Counted(m, costs[id(m)]) for m in messages]

        if newest is not None:
            history.append(Counted(newest, costs[id(newest)]))
        return fit(
            PromptParts(
                before=counted(fixed.before),
                example_header=Counted(fixed.example_header, costs[id(fixed.example_header)]),
                example_blocks=[counted(block) for block in fixed.example_blocks],
                chat_header=None if not header else counted(header)[0],
                history=history,
                after=counted(fixed.after),
                fixed_names=fixed.contents,
            ),
            context_size=state.params.context_size or self._budget.context_size,
            max_tokens=state.params.max_tokens or self._budget.reply_reserve,
        )

    async def _personas_of(
        self, state: ChannelState, speaker: Speaker, page: Sequence[StoredMessage]
    ) -> dict[str, Persona]:
        authors = {m.author_id for m in page if m.role is Role.USER and m.author_id}
        authors.add(speaker.user_id)
        return await self._personas.personas(state.key.platform, sorted(authors))


def _new_message(new: NewUserMessage | None, speaker_name: str | None) -> ChatMessage | None:
    if new is None:
        return None
    text = f"{speaker_name}: {new.content}" if speaker_name else new.content
    return with_images(ChatMessage(Role.USER, text), new.images)


def _usable(stored: Sequence[StoredMessage], newest: ChatMessage | None) -> int:
    return sum(1 for m in stored if is_prompt_history(m)) + (newest is not None)


def _name_of(message: StoredMessage, personas: dict[str, Persona]) -> str | None:
    persona = personas.get(message.author_id or "")
    return persona.name if persona else message.author_name


def _cast(char_name: str, people: tuple[str, ...]) -> tuple[str, ...]:
    """Who `{{group}}` and `{{charIfNotGroup}}` name in a channel where several people talk:
    everyone in the chat but the speaker, the character first.

    The reference's groups are several characters and one user, and its default main prompt
    reads "a chat between {{charIfNotGroup}} and {{user}}"; listing the people there instead
    would name the speaker twice and leave the character out.
    """
    return (char_name, *people[1:]) if len(people) > 1 else ()


def _group_names(
    page: Sequence[StoredMessage],
    speaker: Speaker,
    personas: dict[str, Persona],
    user_name: str,
) -> tuple[str, ...]:
    """The people talking in this stretch of the chat, the speaker first; more than one makes
    it a group."""
    names = {speaker.user_id: user_name}
    for message in page:
        if message.role is Role.USER and message.author_id and message.author_id not in names:
            names[message.author_id] = _name_of(message, personas) or message.author_id
    return tuple(names.values()) if len(names) > 1 else ()
