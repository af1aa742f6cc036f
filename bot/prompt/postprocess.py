"""Prompt post-processing: reshape chat messages into the role order an endpoint accepts.

Pure list work; the modes are in docs/prompt.md §5, and the reference's vectors (V…, W…) in
tests/prompt/test_postprocess.py. Knows no endpoint, only the modes.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.core.domain import ChatMessage, ContentPart, JsonValue, MediaPart, Role

SEPARATOR = "\n\n"  # the only separator post-processing ever uses; neither side is trimmed
DEFAULT_PLACEHOLDER = "[Start a new chat]"  # SillyTavern's config.yaml `promptPlaceholder`

_EXAMPLE_USER = "example_user"
_EXAMPLE_ASSISTANT = "example_assistant"


class PostProcessMode(enum.StrEnum):
    """How strictly roles are reshaped, from least to most restrictive.

    The `*_tools` variants differ from their base mode only in keeping `tool` messages,
    `tool_calls` and `tool_call_id`; the base modes turn tool results into user turns.
    """

    NONE = "none"
    MERGE = "merge"
    SEMI = "semi"
    STRICT = "strict"
    SINGLE = "single"
    MERGE_TOOLS = "merge_tools"
    SEMI_TOOLS = "semi_tools"
    STRICT_TOOLS = "strict_tools"

    @classmethod
    def _missing_(cls, value: object) -> PostProcessMode | None:
        """Accept ST's spellings: `""` is None, `claude` is the legacy alias of merge."""
        aliases = {"": cls.NONE, "claude": cls.MERGE}
        return aliases.get(value) if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class _Rules:
    """What a mode does beyond merging same-role neighbours (docs/prompt.md §5)."""

    strict: bool = False
    placeholders: bool = False
    single: bool = False
    tools: bool = False


_RULES = {
    PostProcessMode.MERGE: _Rules(),
    PostProcessMode.MERGE_TOOLS: _Rules(tools=True),
    PostProcessMode.SEMI: _Rules(strict=True),
    PostProcessMode.SEMI_TOOLS: _Rules(strict=True, tools=True),
    PostProcessMode.STRICT: _Rules(strict=True, placeholders=True),
    PostProcessMode.STRICT_TOOLS: _Rules(strict=True, placeholders=True, tools=True),
    PostProcessMode.SINGLE: _Rules(strict=True, single=True),
}

_STRICTER = {
    PostProcessMode.NONE: PostProcessMode.MERGE,
    PostProcessMode.MERGE: PostProcessMode.SEMI,
    PostProcessMode.SEMI: PostProcessMode.STRICT,
    PostProcessMode.MERGE_TOOLS: PostProcessMode.SEMI_TOOLS,
    PostProcessMode.SEMI_TOOLS: PostProcessMode.STRICT_TOOLS,
}


@dataclass(frozen=True, slots=True)
class _Names:
    """Who speaks: the persona, the character and a group's members; "" means unknown."""

    user: str
    char: str
    groups: tuple[str, ...]

    def speaks_as_char(self, pieces: Sequence[ContentPart]) -> bool:
        """The char prefix is skipped when the text already names the char or a group member."""
        opening = _opening(pieces)
        return _prefixed(opening, self.char) or any(_prefixed(opening, g) for g in self.groups)


@dataclass(frozen=True, slots=True)
class _Turn:
    """A message while it is reshaped.

    `pieces` is its content in order, text and media, never two texts side by side (they
    are one text joined with SEPARATOR), and empty when the message says nothing. This is
    the reference's flattened string with its media sentinels, kept as a list, so media
    can never be garbled by the text around them.
    """

    role: Role
    pieces: tuple[ContentPart, ...]
    tool_calls: tuple[Mapping[str, JsonValue], ...] = ()
    tool_call_id: str | None = None


def stricter(mode: str) -> PostProcessMode | None:
    """The next mode to retry with when an endpoint refuses the role order; None: none is left.

    Takes a stored mode name as well as a mode; a name that is no mode offers no retry. The
    chain stops at strict (issue 4): `single` flattens the conversation, too lossy to pick
    without the channel's admins asking for it.
    """
    try:
        return _STRICTER.get(PostProcessMode(mode))
    except ValueError:
        return None


def postprocess(
    messages: Sequence[ChatMessage],
    mode: PostProcessMode,
    *,
    placeholder: str = DEFAULT_PLACEHOLDER,
    user_name: str | None = None,
    char_name: str | None = None,
    group_names: Sequence[str] = (),
) -> tuple[ChatMessage, ...]:
    """Reshape `messages` as `mode` says; `none` returns them unchanged, names included.

    Every other mode folds `name` into the content and drops it. A message's `parts`, when
    it has any, are its content (its `content` is not read); a result message holding media
    has them as `parts` and, as `content`, its text parts joined with SEPARATOR. One holding
    only text is a plain message with `parts=()`.

    Where we differ from the reference, on purpose:
    * A message with no content, no media and no tool call is dropped rather than kept as an
      entry of its own: it would break the role shape a mode promises (two
      user turns in a row) or open the next turn with a stray separator. An assistant turn
      that only called tools stays, as an empty assistant message, as in the reference (V9).
    * A merged assistant message keeps the tool calls of every message merged into it; the
      reference loses those of the later one (W2), leaving tool results that answer no call.
    * A name put before a message that opens with media becomes a text part of its own, and
      text ending in a line break next to media stays as it is; the reference's sentinels
      turn both into garbage text and lose the media.
    """
    if mode is PostProcessMode.NONE:
        return tuple(messages)
    if not placeholder:
        # An empty placeholder would itself be dropped, leaving strict's promise unmet.
        raise ValueError("the placeholder must not be empty")
    rules = _RULES[mode]
    names = _Names(user_name or "", char_name or "", tuple(group_names))
    turns = [turn for m in messages if (turn := _normalise(m, names, rules)) is not None]
    merged = _merge_consecutive(turns, placeholder)
    if rules.strict:
        shaped = _demote_late_system(merged)
        if rules.placeholders:
            shaped = _insert_placeholder(shaped, placeholder)
        # The second plain pass folds former system messages into their user neighbours.
        merged = _merge_consecutive(shaped, placeholder)
    return tuple(_to_message(turn) for turn in merged)


def _coalesce(parts: Iterable[ContentPart]) -> tuple[ContentPart, ...]:
    """Texts side by side become one, joined with SEPARATOR; media stay where they are."""
    pieces: list[ContentPart] = []
    for part in parts:
        if isinstance(part, str) and pieces and isinstance(pieces[-1], str):
            pieces[-1] = pieces[-1] + SEPARATOR + part
        else:
            pieces.append(part)
    return tuple(pieces)


def _pieces(message: ChatMessage) -> tuple[ContentPart, ...]:
    if not message.parts:
        return (message.content,) if message.content else ()
    pieces = _coalesce(message.parts)
    return () if pieces == ("",) else pieces


def _opening(pieces: Sequence[ContentPart]) -> str:
    """The text a message opens with; "" when it opens with media."""
    first = pieces[0] if pieces else ""
    return first if isinstance(first, str) else ""


def _prefixed(content: str, who: str) -> bool:
    return bool(who) and content.startswith(f"{who}: ")


def _with_prefix(pieces: tuple[ContentPart, ...], who: str) -> tuple[ContentPart, ...]:
    """`who: ` before the content, unless `who` is unknown or already opens it."""
    if not who or _prefixed(_opening(pieces), who):
        return pieces
    head = f"{who}: "
    if pieces and isinstance(pieces[0], str):
        return (head + pieces[0], *pieces[1:])
    return (head, *pieces)  # nothing yet, or media first: the name is a text part of its own


def _normalise(message: ChatMessage, names: _Names, rules: _Rules) -> _Turn | None:
    """Phase A: speaker names into the text, tool messages settled; None: drop it.

    The frontend marks example dialogue as system messages named example_user/_assistant;
    those get the persona's or the character's name. Any other name on a system message is
    dropped without a trace, as the reference does. In `single` mode every message becomes a
    user message, so the user's and the character's turns are told apart by their prefixes;
    a tool result counts as the user's (V17).
    """
    role, name, pieces = message.role, message.name, _pieces(message)
    if role is Role.SYSTEM and name == _EXAMPLE_ASSISTANT and not names.speaks_as_char(pieces):
        pieces = _with_prefix(pieces, names.char)
    if role is Role.SYSTEM and name == _EXAMPLE_USER:
        pieces = _with_prefix(pieces, names.user)
    if name and role is not Role.SYSTEM:
        pieces = _with_prefix(pieces, name)
    if role is Role.TOOL and not rules.tools:
        role = Role.USER
    if rules.single:
        if role is Role.ASSISTANT and not names.speaks_as_char(pieces):
            pieces = _with_prefix(pieces, names.char)
        if role is Role.USER:
            pieces = _with_prefix(pieces, names.user)
        role = Role.USER  # system text gets no prefix
    # An empty turn that called tools, or answers a call, still marks a turn (not in single).
    marks_a_turn = bool(message.tool_calls) or (rules.tools and message.tool_call_id is not None)
    if not pieces and (rules.single or not marks_a_turn):
        return None
    if not rules.tools:
        return _Turn(role, pieces)
    return _Turn(role, pieces, message.tool_calls, message.tool_call_id)


def _merge_consecutive(turns: Sequence[_Turn], placeholder: str) -> list[_Turn]:
    """Phase B: join runs of one role with SEPARATOR, so no role follows itself.

    Tool messages each answer their own call, so they never merge. Nothing left means an
    endpoint would get an empty list, which all of them refuse: a placeholder user turn
    stands in, as in the reference.
    """
    merged: list[_Turn] = []
    for turn in turns:
        previous = merged[-1] if merged else None
        if previous is None or previous.role is not turn.role or turn.role is Role.TOOL:
            merged.append(turn)
            continue
        merged[-1] = _Turn(
            previous.role,
            _coalesce((*previous.pieces, *turn.pieces)),  # an empty turn adds no separator
            previous.tool_calls + turn.tool_calls,
            previous.tool_call_id or turn.tool_call_id,
        )
    return merged or [_Turn(Role.USER, (placeholder,))]


def _demote_late_system(turns: Sequence[_Turn]) -> list[_Turn]:
    """Phase D: only the leading system message may stay; later ones become user turns.

    The leading run of system messages is already one message after the first merge.
    """
    return [
        _Turn(Role.USER, t.pieces, t.tool_calls, t.tool_call_id)
        if i > 0 and t.role is Role.SYSTEM
        else t
        for i, t in enumerate(turns)
    ]


def _insert_placeholder(turns: list[_Turn], placeholder: str) -> list[_Turn]:
    """Strict only: make a user turn open the conversation, right after the system message.

    Like the reference, only positions 0 and 1 are looked at; alternation after that comes
    from merging, since system messages further on were already demoted.
    """
    start = _Turn(Role.USER, (placeholder,))
    first = turns[0].role  # never empty: merging leaves at least the placeholder
    if first is Role.SYSTEM and (len(turns) == 1 or turns[1].role is not Role.USER):
        return [turns[0], start, *turns[1:]]
    if first is not Role.SYSTEM and first is not Role.USER:  # assistant or tool first
        return [start, *turns]
    return turns


def _to_message(turn: _Turn) -> ChatMessage:
    """Phase C: media keep their parts; a message of text alone is a plain string."""
    texts = [piece for piece in turn.pieces if isinstance(piece, str)]
    has_media = any(isinstance(piece, MediaPart) for piece in turn.pieces)
    return ChatMessage(
        turn.role,
        SEPARATOR.join(texts),
        parts=turn.pieces if has_media else (),
        tool_calls=turn.tool_calls,
        tool_call_id=turn.tool_call_id,
    )
