"""The pieces of a chat prompt, in the order of docs/prompt.md §1, before fitting.

Main prompt (the channel's, or the card's `system_prompt` with `{{original}}`), persona,
description, personality, scenario, example dialogues, `[Start a new Chat]`, the history,
post-history instructions. Token counting and trimming happen afterwards (budget.py), so
this stays pure: no endpoint, storage or platform.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.characters.card import CharacterCard
from bot.core.domain import (
    SAID_STATUSES,
    ChatMessage,
    MediaPart,
    MessageStatus,
    Role,
    StoredMessage,
)
from bot.prompt.examples import parse_examples
from bot.prompt.macros import MacroContext, substitute

DEFAULT_MAIN_PROMPT = (
    "Write {{char}}'s next reply in a fictional chat between {{charIfNotGroup}} and {{user}}."
)
NEW_CHAT_PROMPT = "[Start a new Chat]"
EXAMPLE_CHAT_PROMPT = "[Example Chat]"
CONTINUE_NUDGE = "[Continue your last message without repeating its original content.]"
ASSISTANT_NAME = "Assistant"
"""{{char}} in a channel without a character."""


@dataclass(frozen=True, slots=True)
class Scene:
    """What the prompt is about besides its history: who speaks to whom, and the rules.

    `macros.user` is the speaker's persona name (else their display name).
    """

    macros: MacroContext
    system_prompt: str | None = None  # the channel's own
    character: CharacterCard | None = None
    persona_description: str = ""


@dataclass(frozen=True, slots=True)
class Draft:
    """The fixed parts of a prompt; the history is added around `chat_header` when fitting."""

    before: tuple[ChatMessage, ...]
    example_header: ChatMessage
    example_blocks: tuple[tuple[ChatMessage, ...], ...]
    chat_header: ChatMessage | None
    after: tuple[ChatMessage, ...]
    contents: tuple[str, ...] = ()
    """What `before` and `after` hold, as a refusal names them ("the system prompt")."""


def draft(scene: Scene, *, continuing: bool = False) -> Draft:
    """The fixed parts for `scene`; empty prompts are left out entirely, as in the reference.

    A channel without a character keeps the plain shape it always had: its system prompt,
    if any, and nothing else around the history.
    """
    ctx, card = scene.macros, scene.character
    before: list[ChatMessage] = []
    main = _main_prompt(scene)
    if main:
        before.append(ChatMessage(Role.SYSTEM, main))
    persona = _field(scene.persona_description, ctx)
    if persona:
        before.append(ChatMessage(Role.SYSTEM, persona))
    after: list[ChatMessage] = []
    blocks: tuple[tuple[ChatMessage, ...], ...] = ()
    if card is not None:
        for text in (card.description, card.personality, card.scenario):
            value = _field(text, ctx)
            if value:
                before.append(ChatMessage(Role.SYSTEM, value))
        examples = parse_examples(_field(card.mes_example, ctx), user=ctx.user, char=ctx.char)
        blocks = tuple(tuple(block) for block in examples)
        instructions = substitute(card.post_history_instructions.strip(), ctx, original="")
        if instructions:
            after.append(ChatMessage(Role.SYSTEM, instructions))
    if continuing:
        after.insert(0, ChatMessage(Role.SYSTEM, CONTINUE_NUDGE))
    return Draft(
        before=tuple(before),
        example_header=ChatMessage(Role.SYSTEM, EXAMPLE_CHAT_PROMPT),
        example_blocks=blocks,
        chat_header=None if card is None else ChatMessage(Role.SYSTEM, NEW_CHAT_PROMPT),
        after=tuple(after),
        contents=_contents(scene, persona=bool(persona)),
    )


def _contents(scene: Scene, *, persona: bool) -> tuple[str, ...]:
    """What the user put into the fixed parts, each once: a card's own system prompt is the
    character's, and the channel's counts only where the card lets it in (`{{original}}`)."""
    card = scene.character
    own = bool(scene.system_prompt and scene.system_prompt.strip())
    if card is not None and card.system_prompt.strip():
        own = own and "{{original}}" in card.system_prompt.lower()
    names = []
    if own:
        names.append("the system prompt")
    if persona:
        names.append("your persona")
    if card is not None:
        names.append("the character")
    return tuple(names)


def _main_prompt(scene: Scene) -> str:
    """The card's system prompt wins over the channel's (the reference's default), and gets
    the channel's as `{{original}}`; with a character and no prompt at all, the default one."""
    ctx, card = scene.macros, scene.character
    own = scene.system_prompt
    if own is None and card is not None:
        own = DEFAULT_MAIN_PROMPT
    original = substitute(own.strip(), ctx) if own else ""
    if card is not None and card.system_prompt.strip():
        return substitute(card.system_prompt.strip(), ctx, original=original)
    return original


def _field(text: str, ctx: MacroContext) -> str:
    return substitute(text.strip(), ctx).strip()


def is_prompt_history(message: StoredMessage) -> bool:
    """Whether a stored message may be shown to the model again: a reply only when it was
    said (`SAID_STATUSES`) and has text."""
    if message.role is Role.ASSISTANT:
        return message.status in SAID_STATUSES and bool(message.content)
    return message.status is MessageStatus.COMPLETE


def history_message(
    stored: StoredMessage, *, speaker_name: str | None, images: Sequence[str] = ()
) -> ChatMessage:
    """A stored message as the model reads it.

    In a channel where several people talk, a user's turn starts with "Name: " so the model
    can tell them apart; `speaker_name` is None in a one-person channel.
    """
    text = stored.content
    if stored.role is Role.USER and speaker_name:
        text = f"{speaker_name}: {text}"
    return with_images(ChatMessage(stored.role, text), images or stored.images)


def with_images(message: ChatMessage, images: Sequence[str]) -> ChatMessage:
    """The message with its images after its text, as content parts."""
    if not images:
        return message
    text = (message.content,) if message.content else ()
    parts = (*text, *(MediaPart(url) for url in images))
    return ChatMessage(message.role, message.content, message.name, parts=parts)
