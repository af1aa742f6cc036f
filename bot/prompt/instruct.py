"""Text-completion prompts: chat messages rendered through an instruct template (ChatML, Llama 3 …).

Pure string work, summed up in docs/prompt.md §6; knows no endpoint or tokenizer.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from bot.core.domain import ChatMessage, Role
from bot.prompt.examples import EXAMPLE_ASSISTANT, EXAMPLE_USER


class NamesBehavior(enum.StrEnum):
    """When a speaker's `Name: ` goes in front of a message."""

    NONE = "none"
    FORCE = "force"  # only in group chats, and never for the user
    ALWAYS = "always"


class _Position(enum.Enum):
    FIRST = enum.auto()
    LAST = enum.auto()


@dataclass(frozen=True, slots=True)
class InstructTemplate:
    """The fields of a SillyTavern instruct preset that shape a prompt; "" means "not set".

    `instruct=False` is the plain transcript layout ("Name: text" lines): every
    sequence is then ignored.
    """

    label: str
    input_sequence: str = ""
    input_suffix: str = ""
    output_sequence: str = ""
    output_suffix: str = ""
    system_sequence: str = ""
    system_suffix: str = ""
    first_input_sequence: str = ""
    last_input_sequence: str = ""
    first_output_sequence: str = ""
    last_output_sequence: str = ""
    last_system_sequence: str = ""
    story_string_prefix: str = ""
    story_string_suffix: str = ""
    stop_sequence: str = ""
    wrap: bool = False
    macro: bool = True
    names_behavior: NamesBehavior = NamesBehavior.FORCE
    system_same_as_user: bool = False
    user_alignment_message: str = ""
    sequences_as_stop_strings: bool = True
    instruct: bool = True


@dataclass(frozen=True, slots=True)
class RenderedPrompt:
    """A finished `/completions` prompt and the stop strings that belong with it."""

    text: str
    stop: tuple[str, ...]


# One role's prefix and suffix per line; the first five are SillyTavern's presets, checked
# against its output (vectors I1-I4 in tests/prompt/test_instruct.py). Beginning-of-sequence
# tokens (<|begin_of_text|>, <bos>, <s>) are left out on purpose: the server adds BOS when it
# tokenizes a completion prompt, and a second one degrades the output.
# fmt: off
TEMPLATES: Mapping[str, InstructTemplate] = MappingProxyType({
    # ChatML (Qwen, Yi, many fine-tunes); vector I1.
    "chatml": InstructTemplate(
        label="ChatML", stop_sequence="<|im_end|>", wrap=True,
        input_sequence="<|im_start|>user", input_suffix="<|im_end|>\n",
        output_sequence="<|im_start|>assistant", output_suffix="<|im_end|>\n",
        system_sequence="<|im_start|>system", system_suffix="<|im_end|>\n",
        story_string_prefix="<|im_start|>system", story_string_suffix="<|im_end|>\n",
    ),
    # Llama 3 Instruct: Meta's published chat format (header ids, <|eot_id|>); vector I2.
    "llama3": InstructTemplate(
        label="Llama 3 Instruct", stop_sequence="<|eot_id|>",
        input_sequence="<|start_header_id|>user<|end_header_id|>\n\n", input_suffix="<|eot_id|>",
        output_sequence="<|start_header_id|>assistant<|end_header_id|>\n\n",
        output_suffix="<|eot_id|>",
        system_sequence="<|start_header_id|>system<|end_header_id|>\n\n",
        system_suffix="<|eot_id|>",
        story_string_prefix="<|start_header_id|>system<|end_header_id|>\n\n",
        story_string_suffix="<|eot_id|>",
    ),
    # Mistral V7 (Mistral Small 3, Large 2411): [SYSTEM_PROMPT] and [INST] blocks; vector I3.
    "mistral": InstructTemplate(
        label="Mistral V7", stop_sequence="</s>",
        input_sequence="[INST] ", input_suffix="[/INST]",
        output_sequence=" ", output_suffix="</s>",
        system_sequence="[SYSTEM_PROMPT] ", system_suffix="[/SYSTEM_PROMPT]",
        story_string_prefix="[SYSTEM_PROMPT] ", story_string_suffix="[/SYSTEM_PROMPT]",
    ),
    # Mistral V2 & V3 (7B v0.2/v0.3, Mixtral): no system role, so the story string is an
    # [INST] turn the model "acknowledges", and the history must open with a user turn.
    "mistral-v3": InstructTemplate(
        label="Mistral V2 & V3", system_same_as_user=True,
        input_sequence="[INST] ",
        output_sequence="[/INST] ", output_suffix="</s>", last_output_sequence="[/INST]",
        story_string_prefix="[INST] ", story_string_suffix="[/INST] Understood.</s>",
        user_alignment_message="Let's get started. Please respond based on the information "
        "and instructions provided above.",
    ),
    # Alpaca (Stanford Alpaca's "### Instruction:" / "### Response:" layout); vector I4.
    "alpaca": InstructTemplate(
        label="Alpaca", wrap=True,
        input_sequence="### Instruction:", input_suffix="\n\n",
        output_sequence="### Response:", output_suffix="\n\n",
        system_sequence="### Input:", system_suffix="\n\n",
        story_string_suffix="\n\n",
    ),
    # Gemma 2 / 3: Google's chat template has only `user` and `model` turns
    # (<start_of_turn>{role}\n … <end_of_turn>\n). Gemma 2 rejects a system role and Gemma 3
    # folds it into the first user turn. We give the story string a user turn of its own:
    # a role-play history opens with the character's greeting, so story (user) → greeting
    # (model) → user keeps the strict alternation Gemma was trained on. Narrators are users.
    "gemma": InstructTemplate(
        label="Gemma 2/3", stop_sequence="<end_of_turn>", wrap=True, system_same_as_user=True,
        input_sequence="<start_of_turn>user", input_suffix="<end_of_turn>\n",
        output_sequence="<start_of_turn>model", output_suffix="<end_of_turn>\n",
        story_string_prefix="<start_of_turn>user", story_string_suffix="<end_of_turn>\n",
    ),
    # Phi-3 / Phi-3.5: Microsoft's published chat template, <|role|>\n … <|end|>\n per message.
    "phi": InstructTemplate(
        label="Phi-3", stop_sequence="<|end|>",
        input_sequence="<|user|>\n", input_suffix="<|end|>\n",
        output_sequence="<|assistant|>\n", output_suffix="<|end|>\n",
        system_sequence="<|system|>\n", system_suffix="<|end|>\n",
        story_string_prefix="<|system|>\n", story_string_suffix="<|end|>\n",
    ),
    # No template: base models continue a plain "Name: text" transcript.
    "raw": InstructTemplate(label="No template (raw)", instruct=False),
})
# fmt: on

_MACRO = re.compile(r"\{\{(char|user|name)\}\}", re.IGNORECASE)


def render_prompt(
    template: InstructTemplate,
    messages: Sequence[ChatMessage],
    *,
    char_name: str = "Assistant",
    user_name: str = "User",
    group: bool = False,
) -> RenderedPrompt:
    """`messages` as one completion prompt that ends where the character's reply begins.

    The leading system messages are the story string (joined with "\\n"); later ones
    are narrator messages. A message's `name` overrides `char_name` / `user_name` as
    its speaker. `group` is what lets names_behavior "force" name the non-user
    speakers; a 1:1 chat shows no names under "force".
    """
    story, history = _split_story(messages, char_name=char_name, user_name=user_name)
    if not template.instruct:
        return _render_plain(story, history, char_name=char_name, user_name=user_name)
    render = _Renderer(template, char_name=char_name, user_name=user_name, group=group)
    text = render.story_block(story) + "".join(render.history(history)) + render.final_line()
    return RenderedPrompt(text, stop_strings(template, char_name=char_name, user_name=user_name))


def generation_prefix(
    template: InstructTemplate,
    *,
    char_name: str = "Assistant",
    user_name: str = "User",
    group: bool = False,
) -> str:
    """The text every prompt from `template` ends with: where the model starts writing."""
    if not template.instruct:
        return f"\n{char_name}:"
    return _Renderer(template, char_name=char_name, user_name=user_name, group=group).final_line()


def stop_strings(
    template: InstructTemplate, *, char_name: str = "Assistant", user_name: str = "User"
) -> tuple[str, ...]:
    """The stop strings: stop_sequence and (optionally) the role sequences.

    Each is split into lines; repeated, empty and whitespace-only lines are dropped, and
    with `wrap` every stop gets a leading "\\n", because that is how the sequences follow
    a message in the prompt. Without instruct formatting: where the user would speak.
    """
    t = template
    if not t.instruct:
        return (f"\n{user_name}:",)
    sequences = [(t.stop_sequence, "System")]
    if t.sequences_as_stop_strings:
        sequences += [
            (t.input_sequence, user_name),
            (t.output_sequence, char_name),
            (t.first_output_sequence, char_name),
            (t.last_output_sequence, char_name),
            (t.system_sequence, "System"),
            (t.last_system_sequence, "System"),
        ]
    lines = "\n".join(
        _macros(sequence, char_name, user_name, speaker) if t.macro else sequence
        for sequence, speaker in sequences
    ).split("\n")
    prefix = "\n" if t.wrap else ""
    return tuple(dict.fromkeys(prefix + line for line in lines if line.strip()))


def _split_story(
    messages: Sequence[ChatMessage], *, char_name: str, user_name: str
) -> tuple[str, Sequence[ChatMessage]]:
    count = 0
    while count < len(messages) and messages[count].role is Role.SYSTEM:
        count += 1
    story = "\n".join(_story_line(m, char_name, user_name) for m in messages[:count])
    return story, messages[count:]


def _story_line(message: ChatMessage, char_name: str, user_name: str) -> str:
    """Example dialogue comes as system messages named example_user / example_assistant; in
    one block of text only a speaker prefix tells its turns apart."""
    speaker = {EXAMPLE_USER: user_name, EXAMPLE_ASSISTANT: char_name}.get(message.name or "")
    if speaker is None or message.content.startswith(f"{speaker}:"):
        return message.content
    return f"{speaker}: {message.content}"


def _macros(text: str, char_name: str, user_name: str, speaker: str) -> str:
    values = {"char": char_name, "user": user_name, "name": speaker}
    return _MACRO.sub(lambda match: values[match.group(1).lower()], text)


class _Renderer:
    """Formats one prompt with an instruct template: names, macros, first and last positions."""

    def __init__(
        self, template: InstructTemplate, *, char_name: str, user_name: str, group: bool
    ) -> None:
        self.t = template
        self.char_name = char_name
        self.user_name = user_name
        self.group = group
        self.sep = "\n" if template.wrap else ""

    def _sub(self, text: str, speaker: str | None) -> str:
        if not self.t.macro:
            return text
        return _macros(text, self.char_name, self.user_name, speaker or "System")

    def story_block(self, story: str) -> str:
        """The story string wrapped in its prefix and suffix; nothing at all when it is empty."""
        if not story:
            return ""
        prefix = self._sub(self.t.story_string_prefix, None)
        head = prefix + self.sep if prefix else ""
        return head + story + self._sub(self.t.story_string_suffix, None)

    def history(self, history: Sequence[ChatMessage]) -> list[str]:
        """Formatted history items; the user-alignment filler first when the history needs it."""
        last_user = max((i for i, m in enumerate(history) if m.role is Role.USER), default=-1)
        items = []
        for index, message in enumerate(history):
            position = (
                _Position.LAST if index == last_user else _Position.FIRST if index == 0 else None
            )
            items.append(self.message(message, position))
        if items and self.t.wrap:
            # The final line starts with its own "\n": keep one newline between them, not two.
            items[-1] = items[-1].removesuffix("\n")
        if self.t.user_alignment_message and (not history or history[0].role is not Role.USER):
            filler = ChatMessage(Role.USER, self.t.user_alignment_message)
            items.insert(0, self.message(filler, None))
        return items

    def message(self, message: ChatMessage, position: _Position | None) -> str:
        t = self.t
        narrator = message.role is Role.SYSTEM
        is_user = message.role is Role.USER
        speaker = message.name or (
            None if narrator else self.user_name if is_user else self.char_name
        )
        as_user = is_user or (narrator and t.system_same_as_user)
        if narrator:
            prefix = t.input_sequence if t.system_same_as_user else t.system_sequence
        elif is_user:
            prefix = self._positional(t.first_input_sequence, t.last_input_sequence, position)
            prefix = prefix or t.input_sequence
        else:
            prefix = self._positional(t.first_output_sequence, t.last_output_sequence, position)
            prefix = prefix or t.output_sequence
        suffix = t.input_suffix if as_user else t.system_suffix if narrator else t.output_suffix
        prefix, suffix = self._sub(prefix, speaker), self._sub(suffix, speaker)
        if not suffix and t.wrap:
            suffix = "\n"
        named = not narrator and speaker is not None and self._names_message(speaker)
        body = (f"{speaker}: {message.content}" if named else message.content) + suffix
        return self.sep.join(part for part in (prefix, body) if part)

    @staticmethod
    def _positional(first: str, last: str, position: _Position | None) -> str:
        return first if position is _Position.FIRST else last if position is _Position.LAST else ""

    def _names_message(self, speaker: str) -> bool:
        behavior = self.t.names_behavior
        if behavior is NamesBehavior.ALWAYS:
            return True
        return behavior is NamesBehavior.FORCE and self.group and speaker != self.user_name

    def final_line(self) -> str:
        """The generation prompt: the last output sequence, and `Char:` when names are shown."""
        t = self.t
        named = t.names_behavior is NamesBehavior.ALWAYS or (
            t.names_behavior is NamesBehavior.FORCE and self.group
        )
        sequence = t.last_output_sequence or t.output_sequence
        filler = ""
        if named and t.last_output_sequence and t.output_sequence[-1:].isspace():
            # Mistral V2/V3 end "[/INST]" without the space the output sequence has: put it
            # back before the name so the line reads "[/INST] Alice:", as ST does.
            filler = "" if t.last_output_sequence[-1:].isspace() else t.output_sequence[-1]
        sequence = self._sub(sequence, self.char_name)
        if named:
            line = self.sep + sequence + self.sep + filler + f"{self.char_name}:"
        else:
            line = self.sep + sequence
        return (line.rstrip() if t.wrap else line) + ("" if named else self.sep)


def _render_plain(
    story: str, history: Sequence[ChatMessage], *, char_name: str, user_name: str
) -> RenderedPrompt:
    """No template: the story, "Name: text" lines, then "\\n{char}:"; stop where a user speaks."""
    parts = [story if not story or story.endswith("\n") else story + "\n"]
    users = [user_name]
    for message in history:
        if message.role is Role.SYSTEM:
            parts.append(message.content + "\n")
            continue
        default = user_name if message.role is Role.USER else char_name
        speaker = message.name or default
        if message.role is Role.USER:
            users.append(speaker)
        parts.append(f"{speaker}: {message.content}\n")
    if history:
        parts[-1] = parts[-1].removesuffix("\n")
    text = "".join(parts)
    text += ("" if text.endswith("\n") else "\n") + f"{char_name}:"
    return RenderedPrompt(text, tuple(dict.fromkeys(f"\n{name}:" for name in users)))
