"""A card's example dialogue (`mes_example`) split into blocks of example messages.

The rules are in docs/prompt.md §3; the text arrives macro-substituted, and fitting the
blocks into the context is budget.py's business.
"""

from __future__ import annotations

import re

from bot.core.domain import ChatMessage, Role

START = "<START>"
EXAMPLE_USER = "example_user"
EXAMPLE_ASSISTANT = "example_assistant"

_START_ANY_CASE = re.compile(re.escape(START), re.IGNORECASE)


def split_blocks(text: str) -> list[str]:
    """The example conversations in `text`, each as `<START>\\n…\\n`, exactly as the reference.

    That includes its quirk: only an upper-case `<START>` counts as opening the text, so a
    text opening with `<start>` gets one more `<START>` put in front and yields an empty first
    block. `parse_examples` drops such blocks.
    """
    if not text or text == START:
        return []
    if not text.startswith(START):  # case-sensitive, as in the reference
        text = f"{START}\n{text.strip()}"
    parts = _START_ANY_CASE.split(text)[1:]
    return [f"{START}\n{part.strip()}\n" for part in parts]


def parse_examples(text: str, *, user: str, char: str) -> list[list[ChatMessage]]:
    """Each example conversation as system messages named example_user / example_assistant.

    One deliberate difference from the reference: a block that yields no message is left
    out, because the reference would still send an `[Example Chat]` header for it, which
    costs tokens and shows the model an empty example.
    """
    blocks = (_block_messages(block, user=user, char=char) for block in split_blocks(text))
    return [messages for messages in blocks if messages]


def _block_messages(block: str, *, user: str, char: str) -> list[ChatMessage]:
    """The messages of one block: a line opening with `Name:` starts a new speaker's turn.

    Any other line continues the current turn; lines before the first speaker stick to that
    speaker's turn, as in the reference. Only the first `Name:` of a turn is removed.
    """
    lines = block.replace("\r", "").split("\n")[1:]  # the first line is <START>
    messages: list[ChatMessage] = []
    turn: list[str] = []
    speaker: str | None = None  # "user", "char" or None before the first speaker

    def flush(kind: str) -> None:
        name, label = (user, EXAMPLE_USER) if kind == "user" else (char, EXAMPLE_ASSISTANT)
        content = "\n".join(turn).replace(f"{name}:", "", 1).strip()
        messages.append(ChatMessage(Role.SYSTEM, content, name=label))

    for line in lines:
        if line.startswith(f"{user}:"):
            if speaker == "char":
                flush("char")
                turn.clear()
            speaker = "user"
        elif line.startswith(f"{char}:"):
            if speaker == "user":
                flush("user")
                turn.clear()
            speaker = "char"
        turn.append(line)
    if speaker is not None:
        flush(speaker)
    return messages
