"""Prompt post-processing: reshape chat messages into the role order an endpoint accepts.

Pure list work after spec/prompt-postprocessing.md §1; knows no endpoint, only the modes.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from bot.domain import ChatMessage, Role

SEPARATOR = "\n\n"  # the only separator post-processing ever uses; neither side is trimmed
DEFAULT_PLACEHOLDER = "[Start a new chat]"  # ST's config.yaml `promptPlaceholder` (Appendix A)

_EXAMPLE_USER = "example_user"
_EXAMPLE_ASSISTANT = "example_assistant"


class PostProcessMode(enum.StrEnum):
    """How strictly roles are reshaped (§1.1), from least to most restrictive.

    The `*_tools` variants differ from their base mode only in keeping `tool` messages and
    tool calls apart; our ChatMessage carries neither yet, so for us they behave exactly like
    their base mode. They exist so a stored channel setting survives the day tools arrive.
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
    """One row of the §1.2 table; the `tools` column is left out (see PostProcessMode)."""

    strict: bool = False
    placeholders: bool = False
    single: bool = False


_RULES = {
    PostProcessMode.MERGE: _Rules(),
    PostProcessMode.MERGE_TOOLS: _Rules(),
    PostProcessMode.SEMI: _Rules(strict=True),
    PostProcessMode.SEMI_TOOLS: _Rules(strict=True),
    PostProcessMode.STRICT: _Rules(strict=True, placeholders=True),
    PostProcessMode.STRICT_TOOLS: _Rules(strict=True, placeholders=True),
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

    def speaks_as_char(self, content: str) -> bool:
        """The char prefix is skipped when the text already names the char or a group member."""
        return _prefixed(content, self.char) or any(_prefixed(content, g) for g in self.groups)


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
    """Reshape `messages` as `mode` says (§1.3); `none` returns them unchanged, names included.

    Every other mode folds `name` into the content and drops it. One deliberate difference
    from the reference: a message with empty content is dropped instead of kept as an entry of
    its own (§1.4 quirk 1), since it holds no text and would break the role shape a mode
    promises (two user turns in a row, or content opening with a stray "\n\n").
    """
    if mode is PostProcessMode.NONE:
        return tuple(messages)
    if not placeholder:
        # An empty placeholder would itself be dropped, leaving strict's promise unmet.
        raise ValueError("the placeholder must not be empty")
    rules = _RULES[mode]
    names = _Names(user_name or "", char_name or "", tuple(group_names))
    named = [_name_into_content(m, names, single=rules.single) for m in messages]
    merged = _merge_consecutive(named, placeholder)
    if not rules.strict:
        return merged
    demoted = _demote_late_system(merged)
    if rules.placeholders:
        demoted = _insert_placeholder(demoted, placeholder)
    # The second plain pass folds former system messages into their user neighbours.
    return _merge_consecutive(demoted, placeholder)


def _prefixed(content: str, who: str) -> bool:
    return bool(who) and content.startswith(f"{who}: ")


def _with_prefix(content: str, who: str) -> str:
    """`who: content`, unless `who` is unknown or already opens the content."""
    if not who or _prefixed(content, who):
        return content
    return f"{who}: {content}"


def _name_into_content(message: ChatMessage, names: _Names, *, single: bool) -> ChatMessage:
    """Phase A of §1.3: put speaker names into the text, since no mode but none keeps `name`.

    The frontend marks example dialogue as system messages named example_user/_assistant;
    those get the persona's or the character's name. Any other name on a system message is
    dropped without a trace, as the reference does. In `single` mode every message becomes a
    user message, so the user's and the character's turns are told apart by their prefixes.
    (The reference also flattens multimodal parts and turns `tool` messages into user ones
    here; our ChatMessage has plain string content and no tool role.)
    """
    role, content, name = message.role, message.content, message.name
    if role is Role.SYSTEM and name == _EXAMPLE_ASSISTANT and not names.speaks_as_char(content):
        content = _with_prefix(content, names.char)
    if role is Role.SYSTEM and name == _EXAMPLE_USER:
        content = _with_prefix(content, names.user)
    if name and role is not Role.SYSTEM:
        content = _with_prefix(content, name)
    if single:
        if role is Role.ASSISTANT and not names.speaks_as_char(content):
            content = _with_prefix(content, names.char)
        if role is Role.USER:
            content = _with_prefix(content, names.user)
        role = Role.USER  # system text gets no prefix
    return ChatMessage(role, content)


def _merge_consecutive(
    messages: Sequence[ChatMessage], placeholder: str
) -> tuple[ChatMessage, ...]:
    """Phase B: join runs of one role with SEPARATOR, so no role follows itself.

    Empty messages are dropped (our difference, see `postprocess`). Nothing left means an
    endpoint would get an empty list, which all of them refuse: a placeholder user turn
    stands in, as in the reference.
    """
    merged: list[ChatMessage] = []
    for message in messages:
        if not message.content:
            continue
        if merged and merged[-1].role is message.role:
            previous = merged[-1]
            merged[-1] = ChatMessage(previous.role, previous.content + SEPARATOR + message.content)
        else:
            merged.append(message)
    if not merged:
        return (ChatMessage(Role.USER, placeholder),)
    return tuple(merged)


def _demote_late_system(messages: Sequence[ChatMessage]) -> list[ChatMessage]:
    """Phase D: only the leading system message may stay; later ones become user turns.

    The leading run of system messages is already one message after the first merge.
    """
    return [
        ChatMessage(Role.USER, m.content) if i > 0 and m.role is Role.SYSTEM else m
        for i, m in enumerate(messages)
    ]


def _insert_placeholder(messages: list[ChatMessage], placeholder: str) -> list[ChatMessage]:
    """Strict only: make a user turn open the conversation, right after the system message.

    Like the reference, only positions 0 and 1 are looked at; alternation after that comes
    from merging, since system messages further on were already demoted.
    """
    first = messages[0].role  # never empty: merging leaves at least the placeholder
    if first is Role.SYSTEM and (len(messages) == 1 or messages[1].role is not Role.USER):
        return [messages[0], ChatMessage(Role.USER, placeholder), *messages[1:]]
    if first is Role.ASSISTANT:
        return [ChatMessage(Role.USER, placeholder), *messages]
    return messages
