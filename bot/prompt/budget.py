"""Fitting a chat prompt into the model's context window, given each message's token cost.

The order of priority is in docs/prompt.md §4. Counting tokens is the caller's
business (a tokenizer, or `estimate_tokens`); this module only adds and drops whole messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.domain import ChatMessage
from bot.core.errors import UsageError

REPLY_PRIMING_TOKENS = 3  # what an endpoint adds to open the reply
MESSAGE_OVERHEAD_TOKENS = 3  # each message's role and framing, beyond its text
NAME_OVERHEAD_TOKENS = 1
_BYTES_PER_TOKEN_X100 = 335  # 3.35 bytes per token, in hundredths to stay in integers

_MAKE_ROOM = (
    "make room with /params context_size (if the model allows more) or a lower /params max_tokens."
)


@dataclass(frozen=True, slots=True)
class Counted:
    """A message with its cost in tokens, framing included (see `message_cost`)."""

    message: ChatMessage
    tokens: int

    def __post_init__(self) -> None:
        if self.tokens < 0:
            raise ValueError(f"a message cannot cost {self.tokens} tokens")


@dataclass(frozen=True, slots=True)
class PromptParts:
    """Everything that may go into one prompt, each part in prompt order.

    `before` and `after` are mandatory, and so is the last item of `history`: the message
    being answered. The rest is kept while room lasts: older history, then example blocks.
    """

    before: Sequence[Counted]
    example_header: Counted
    example_blocks: Sequence[Sequence[Counted]]
    chat_header: Counted | None
    history: Sequence[Counted]
    after: Sequence[Counted]
    fixed_names: Sequence[str] = ()
    """What `before` and `after` are made of, as a refusal names them ("the system prompt",
    "the character"): only what the channel really has, so the advice can be followed."""


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    """The prompt that fits: `before`, `[header + block]*`, chat header, history, `after`.

    `history_kept` and `examples_kept` count how many of the parts' history (its newest end)
    and example blocks (its first ones) made it; `tokens` is what they all cost and
    `room_left` what is still free of the budget.
    """

    messages: tuple[ChatMessage, ...]
    history_kept: int
    examples_kept: int
    tokens: int
    room_left: int


class PromptTooLarge(UsageError):
    """The mandatory parts alone do not fit: the user has to shorten something.

    `needed` is the tokens asked for, `room` the tokens there were for it.
    """

    def __init__(self, message: str, *, needed: int, room: int) -> None:
        super().__init__(message)
        self.needed = needed
        self.room = room


def message_cost(role_tokens: int, content_tokens: int, name_tokens: int | None) -> int:
    """What one chat message costs: role, content and framing, plus its name if it has one."""
    cost = role_tokens + content_tokens + MESSAGE_OVERHEAD_TOKENS
    if name_tokens is not None:
        cost += name_tokens + NAME_OVERHEAD_TOKENS
    return cost


def estimate_tokens(text: str) -> int:
    """`ceil(utf8 bytes / 3.35)`: the guess used when no tokenizer can count the text.

    Integer arithmetic, so that a length like 67 bytes gives exactly 20 and not a float's 21.
    """
    size = len(text.encode("utf-8"))
    return (size * 100 + _BYTES_PER_TOKEN_X100 - 1) // _BYTES_PER_TOKEN_X100


def fit(parts: PromptParts, *, context_size: int, max_tokens: int) -> FittedPrompt:
    """Keep what fits in `context_size`, leaving `max_tokens` for the reply.

    Mandatory first: `before`, `after` and the chat header, then the new message; if they
    do not fit, PromptTooLarge says by how much. The chat header counts as mandatory since
    there is always a history for it to open. Then the history from newest to oldest,
    stopping at the first message that does not fit (everything older goes too, so the
    model never sees a gap), then whole example blocks in order while they fit. So examples
    are the first thing a growing chat pushes out, though they come first in the prompt.
    """
    if not parts.history:
        raise ValueError("the history must end with the message being answered")
    if max_tokens < 0:
        raise ValueError(f"max_tokens must not be negative, not {max_tokens}")
    budget = context_size - max_tokens - REPLY_PRIMING_TOKENS
    if budget <= 0:
        raise PromptTooLarge(
            f"A reply of up to {max_tokens} tokens leaves no room for the prompt in a context "
            f"of {context_size} tokens. Lower /params max_tokens or raise /params context_size.",
            needed=max_tokens + REPLY_PRIMING_TOKENS,
            room=context_size,
        )
    header = [] if parts.chat_header is None else [parts.chat_header]
    fixed = _cost([*parts.before, *parts.after, *header])
    names = list(parts.fixed_names)
    if fixed > budget:
        what = _listed(names, "and") or "the prompt's own instructions"
        need = "needs" if len(names) == 1 else "need"
        raise PromptTooLarge(
            f"{what[0].upper()}{what[1:]} {need} {fixed} tokens, but only {budget} are free "
            f"for the prompt. {_advice(names)}",
            needed=fixed,
            room=budget,
        )
    *older, new = parts.history
    if fixed + new.tokens > budget:
        beside = f"beside {_listed(names, 'and')}" if names else "for the prompt"
        raise PromptTooLarge(
            f"The message needs {new.tokens} tokens, but only {budget - fixed} are left "
            f"{beside}. {_advice(['the message', *names])}",
            needed=new.tokens,
            room=budget - fixed,
        )
    room = budget - fixed - new.tokens
    kept_older, room = _newest_that_fit(older, room)
    blocks, room = _examples_that_fit(parts.example_header, parts.example_blocks, room)
    kept = [
        *parts.before,
        *(message for block in blocks for message in block),
        *header,
        *kept_older,
        new,
        *parts.after,
    ]
    return FittedPrompt(
        messages=tuple(counted.message for counted in kept),
        history_kept=len(kept_older) + 1,
        examples_kept=len(blocks),
        tokens=budget - room,
        room_left=room,
    )


def _listed(names: Sequence[str], word: str) -> str:
    """The names joined for a sentence: "a", "a and b", "a, b and c"; "" for none."""
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {word} {names[-1]}"


def _advice(shorten: Sequence[str]) -> str:
    """What the user can do: shorten what is there, or make room."""
    if not shorten:
        return _MAKE_ROOM[0].upper() + _MAKE_ROOM[1:]
    return f"Shorten {_listed(shorten, 'or')}, or {_MAKE_ROOM}"


def _cost(counted: Sequence[Counted]) -> int:
    return sum(c.tokens for c in counted)


def _newest_that_fit(history: Sequence[Counted], room: int) -> tuple[list[Counted], int]:
    """The longest newest run of `history` that fits in `room`, oldest first, and what's left.

    An exact fit is kept (`room - cost >= 0`), as in the reference.
    """
    kept: list[Counted] = []
    for counted in reversed(history):
        if room - counted.tokens < 0:
            break
        kept.append(counted)
        room -= counted.tokens
    kept.reverse()
    return kept, room


def _examples_that_fit(
    header: Counted, blocks: Sequence[Sequence[Counted]], room: int
) -> tuple[list[list[Counted]], int]:
    """The first example blocks that fit in `room`, each with its header, and what's left.

    A block is all or nothing: half an example conversation teaches the model a wrong
    pattern. An empty block has nothing to show, so it gets no header and costs nothing.
    """
    kept: list[list[Counted]] = []
    for block in blocks:
        shown = [header, *block] if block else []
        cost = _cost(shown)
        if room - cost < 0:
            break
        kept.append(shown)
        room -= cost
    return kept, room
