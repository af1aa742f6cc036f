"""Instruct templates: reference vectors I1-I4, our own for Gemma, Phi and raw, and properties."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.domain import ChatMessage, Role
from bot.prompt.instruct import (
    TEMPLATES,
    InstructTemplate,
    NamesBehavior,
    RenderedPrompt,
    generation_prefix,
    render_prompt,
)

STORY = (ChatMessage(Role.SYSTEM, "You are Alice."), ChatMessage(Role.SYSTEM, "Alice is a cat."))
HISTORY = (ChatMessage(Role.ASSISTANT, "Meow."), ChatMessage(Role.USER, "Hi cat"))
VECTOR = STORY + HISTORY


def render(
    template: InstructTemplate, messages: tuple[ChatMessage, ...] = VECTOR, *, group: bool = False
) -> RenderedPrompt:
    """The vector's names: Alice is the character, Bob the user."""
    return render_prompt(template, messages, char_name="Alice", user_name="Bob", group=group)


def test_chatml_matches_vector_i1() -> None:
    """ChatML renders I1 exactly."""
    assert render(TEMPLATES["chatml"]).text == (
        "<|im_start|>system\nYou are Alice.\nAlice is a cat.<|im_end|>\n"
        "<|im_start|>assistant\nMeow.<|im_end|>\n<|im_start|>user\nHi cat<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chatml_stops_match_vector_i1() -> None:
    """ChatML's stops are the newline-prefixed end and role sequences of I1."""
    assert render(TEMPLATES["chatml"]).stop == (
        "\n<|im_end|>",
        "\n<|im_start|>user",
        "\n<|im_start|>assistant",
        "\n<|im_start|>system",
    )


def test_chatml_narrator_uses_system_sequence() -> None:
    """A system message after the first chat message is a narrator turn, as in I1."""
    messages = (*STORY, HISTORY[0], ChatMessage(Role.SYSTEM, "Note: it is night."), HISTORY[1])
    assert (
        "<|im_start|>system\nNote: it is night.<|im_end|>\n"
        in render(TEMPLATES["chatml"], messages).text
    )


def test_chatml_names_always_names_the_user() -> None:
    """names_behavior=always puts `Bob: ` in the user's message, as in I1."""
    template = replace(TEMPLATES["chatml"], names_behavior=NamesBehavior.ALWAYS)
    messages = (ChatMessage(Role.USER, "Hi"), ChatMessage(Role.ASSISTANT, "Meow."))
    assert "<|im_start|>user\nBob: Hi<|im_end|>\n" in render(template, messages).text


def test_chatml_names_always_ends_with_the_char_name() -> None:
    """names_behavior=always ends the prompt with I1's named final line."""
    template = replace(TEMPLATES["chatml"], names_behavior=NamesBehavior.ALWAYS)
    assert render(template).text.endswith("<|im_end|>\n<|im_start|>assistant\nAlice:")


def test_chatml_narrator_is_never_named() -> None:
    """Even names_behavior=always leaves narrator messages unnamed."""
    template = replace(TEMPLATES["chatml"], names_behavior=NamesBehavior.ALWAYS)
    messages = (*HISTORY, ChatMessage(Role.SYSTEM, "Night falls."), ChatMessage(Role.USER, "Hm"))
    assert "<|im_start|>system\nNight falls.<|im_end|>\n" in render(template, messages).text


def test_force_names_nobody_in_a_one_to_one_chat() -> None:
    """names_behavior=force shows no names outside a group chat."""
    assert "Alice:" not in render(TEMPLATES["chatml"]).text


def test_force_in_a_group_names_the_character_but_not_the_user() -> None:
    """In a group, force names every speaker but the user, and the final line."""
    text = render(TEMPLATES["chatml"], group=True).text
    assert "<|im_start|>assistant\nAlice: Meow.<|im_end|>\n" in text
    assert "<|im_start|>user\nHi cat<|im_end|>" in text
    assert text.endswith("\n<|im_start|>assistant\nAlice:")


def test_force_in_a_group_names_other_humans() -> None:
    """In a group, a user message from someone other than the persona is named."""
    messages = (ChatMessage(Role.USER, "Hey", name="Carol"), ChatMessage(Role.USER, "Hi"))
    text = render(TEMPLATES["chatml"], messages, group=True).text
    assert "<|im_start|>user\nCarol: Hey<|im_end|>\n<|im_start|>user\nHi<|im_end|>" in text


def test_llama3_matches_vector_i2() -> None:
    """Llama 3 Instruct renders I2 exactly."""
    assert render(TEMPLATES["llama3"]).text == (
        "<|start_header_id|>system<|end_header_id|>\n\nYou are Alice.\nAlice is a cat.<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nMeow.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi cat<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_llama3_stops_match_vector_i2() -> None:
    """Llama 3's stops are split at the sequences' newlines, without empty lines."""
    assert render(TEMPLATES["llama3"]).stop == (
        "<|eot_id|>",
        "<|start_header_id|>user<|end_header_id|>",
        "<|start_header_id|>assistant<|end_header_id|>",
        "<|start_header_id|>system<|end_header_id|>",
    )


def test_mistral_v7_matches_vector_i3() -> None:
    """Mistral V7 renders I3 exactly."""
    assert render(TEMPLATES["mistral"]).text == (
        "[SYSTEM_PROMPT] You are Alice.\nAlice is a cat.[/SYSTEM_PROMPT] Meow.</s>"
        "[INST] Hi cat[/INST] "
    )


def test_mistral_v7_stops_skip_the_whitespace_output_sequence() -> None:
    """Mistral V7's one-space output sequence is no stop string (I3)."""
    assert render(TEMPLATES["mistral"]).stop == ("</s>", "[INST] ", "[SYSTEM_PROMPT] ")


def test_alpaca_matches_vector_i4() -> None:
    """Alpaca renders I4 exactly."""
    assert render(TEMPLATES["alpaca"]).text == (
        "You are Alice.\nAlice is a cat.\n\n### Response:\nMeow.\n\n"
        "### Instruction:\nHi cat\n\n### Response:\n"
    )


def test_alpaca_stops_match_vector_i4() -> None:
    """Alpaca has no stop sequence; its role sequences are the stops (I4)."""
    assert render(TEMPLATES["alpaca"]).stop == (
        "\n### Instruction:",
        "\n### Response:",
        "\n### Input:",
    )


def test_mistral_v3_opens_the_history_with_the_alignment_message() -> None:
    """Mistral V2/V3 gets a user filler turn before a history that opens with the character."""
    assert render(TEMPLATES["mistral-v3"]).text == (
        "[INST] You are Alice.\nAlice is a cat.[/INST] Understood.</s>"
        "[INST] Let's get started. Please respond based on the information and instructions "
        "provided above.[/INST] Meow.</s>[INST] Hi cat[/INST]"
    )


def test_mistral_v3_named_final_line_keeps_the_space() -> None:
    """With names, Mistral V2/V3's final "[/INST]" is followed by a space before the name."""
    template = replace(TEMPLATES["mistral-v3"], names_behavior=NamesBehavior.ALWAYS)
    assert render(template).text.endswith("[INST] Bob: Hi cat[/INST] Alice:")


def test_gemma_renders_the_story_as_a_user_turn() -> None:
    """Ours: Gemma has no system role, so the story string is its own user turn."""
    assert render(TEMPLATES["gemma"]).text == (
        "<start_of_turn>user\nYou are Alice.\nAlice is a cat.<end_of_turn>\n"
        "<start_of_turn>model\nMeow.<end_of_turn>\n"
        "<start_of_turn>user\nHi cat<end_of_turn>\n"
        "<start_of_turn>model\n"
    )


def test_gemma_stops_at_its_turn_markers() -> None:
    """Ours: Gemma stops at the end-of-turn marker and at either role's turn start."""
    assert render(TEMPLATES["gemma"]).stop == (
        "\n<end_of_turn>",
        "\n<start_of_turn>user",
        "\n<start_of_turn>model",
    )


def test_gemma_narrator_is_a_user_turn() -> None:
    """Ours: a Gemma narrator message is formatted as a user turn."""
    messages = (*HISTORY, ChatMessage(Role.SYSTEM, "Night falls."))
    text = render(TEMPLATES["gemma"], messages).text
    assert text.endswith("<start_of_turn>user\nNight falls.<end_of_turn>\n<start_of_turn>model\n")


def test_phi_renders_the_vector_history() -> None:
    """Ours: Phi-3 puts each message between a role tag line and <|end|>."""
    assert render(TEMPLATES["phi"]).text == (
        "<|system|>\nYou are Alice.\nAlice is a cat.<|end|>\n"
        "<|assistant|>\nMeow.<|end|>\n<|user|>\nHi cat<|end|>\n<|assistant|>\n"
    )


def test_phi_stops_at_its_role_tags() -> None:
    """Ours: Phi-3 stops at <|end|> and at each role tag, without the tags' newlines."""
    assert render(TEMPLATES["phi"]).stop == ("<|end|>", "<|user|>", "<|assistant|>", "<|system|>")


def test_raw_renders_a_name_prefixed_transcript() -> None:
    """Ours: without a template the history is "Name: text" lines ending at "\\nAlice:"."""
    assert render(TEMPLATES["raw"]).text == (
        "You are Alice.\nAlice is a cat.\nAlice: Meow.\nBob: Hi cat\nAlice:"
    )


@pytest.mark.parametrize("name", ["chatml", "raw"])
def test_example_dialogue_keeps_its_speakers_in_the_story(name: str) -> None:
    """Example turns are system messages in chat form; flattened into the story block, each
    must still say who speaks, or the model cannot tell the character's lines from the user's."""
    examples = (
        ChatMessage(Role.SYSTEM, "[Example Chat]"),
        ChatMessage(Role.SYSTEM, "Hi", name="example_user"),
        ChatMessage(Role.SYSTEM, "Alice: Meow.", name="example_assistant"),
    )
    text = render(TEMPLATES[name], STORY + examples + HISTORY).text
    assert "Alice is a cat.\n[Example Chat]\nBob: Hi\nAlice: Meow." in text


def test_raw_stops_before_the_user_speaks() -> None:
    """Ours: a raw prompt stops where the model starts writing the user's line."""
    assert render(TEMPLATES["raw"]).stop == ("\nBob:",)


def test_raw_stops_before_every_human_speaks() -> None:
    """Ours: each named human in the history gets a stop of their own."""
    messages = (ChatMessage(Role.USER, "Hey", name="Carol"), ChatMessage(Role.USER, "Hi"))
    assert render(TEMPLATES["raw"], messages).stop == ("\nBob:", "\nCarol:")


def test_raw_narrator_lines_have_no_name() -> None:
    """Ours: a narrator line in a raw transcript is its bare text."""
    messages = (HISTORY[0], ChatMessage(Role.SYSTEM, "Night falls."), HISTORY[1])
    assert render(TEMPLATES["raw"], messages).text == (
        "Alice: Meow.\nNight falls.\nBob: Hi cat\nAlice:"
    )


def test_raw_char_name_defaults_to_assistant() -> None:
    """The raw final line names "Assistant" when no character is given."""
    rendered = render_prompt(TEMPLATES["raw"], (ChatMessage(Role.USER, "Hi"),))
    assert rendered.text == "User: Hi\nAssistant:"


def test_no_system_message_means_no_story_block() -> None:
    """An empty story string leaves out its prefix and suffix too."""
    assert render(TEMPLATES["chatml"], HISTORY).text.startswith("<|im_start|>assistant\nMeow.")


def test_macros_in_sequences_name_the_speaker() -> None:
    """{{char}}, {{user}} and {{name}} in a sequence are replaced with names."""
    template = InstructTemplate(
        label="macro", input_sequence="<{{name}}>", output_sequence="[{{char}} to {{user}}]"
    )
    assert render(template, HISTORY).text == "[Alice to Bob]Meow.<Bob>Hi cat[Alice to Bob]"


def test_first_and_last_sequences_apply() -> None:
    """The first message and the last user message take their own sequences when set."""
    template = InstructTemplate(
        label="positions",
        input_sequence="U:",
        last_input_sequence="LU:",
        output_sequence="A:",
        first_output_sequence="FA:",
        last_output_sequence="LA:",
    )
    messages = (*HISTORY, ChatMessage(Role.ASSISTANT, "Purr."), ChatMessage(Role.USER, "Bye"))
    assert render(template, messages).text == "FA:Meow.U:Hi catA:Purr.LU:ByeLA:"


contents = st.text(alphabet=st.characters(codec="utf-8"), max_size=12)
roles = st.sampled_from([Role.SYSTEM, Role.USER, Role.ASSISTANT])
message_lists = st.lists(st.builds(ChatMessage, roles, contents), max_size=8)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
@settings(max_examples=60, deadline=None)
@given(messages=message_lists, group=st.booleans())
def test_prompt_keeps_every_message_in_order(
    key: str, messages: list[ChatMessage], group: bool
) -> None:
    """Every message's content appears in the prompt, in order."""
    names = {"char_name": "Alice", "user_name": "Bob"}
    text = render_prompt(TEMPLATES[key], messages, **names, group=group).text
    position = 0
    for message in messages:
        found = text.find(message.content, position)
        assert found >= 0
        position = found + len(message.content)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
@settings(max_examples=60, deadline=None)
@given(messages=message_lists, group=st.booleans())
def test_prompt_ends_with_the_generation_prefix(
    key: str, messages: list[ChatMessage], group: bool
) -> None:
    """Every prompt ends where the character's reply begins."""
    template = TEMPLATES[key]
    text = render_prompt(template, messages, char_name="A", user_name="B", group=group).text
    assert text.endswith(generation_prefix(template, char_name="A", user_name="B", group=group))
