"""The fixed parts of a prompt in order (docs/prompt.md §1), and stored messages as the model
reads them."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.characters.card import CharacterCard
from bot.core.domain import ChatMessage, MediaPart, MessageId, MessageStatus, Role, StoredMessage
from bot.prompt.assemble import (
    CONTINUE_NUDGE,
    EXAMPLE_CHAT_PROMPT,
    NEW_CHAT_PROMPT,
    Scene,
    draft,
    history_message,
    is_prompt_history,
    with_images,
)
from bot.prompt.macros import MacroContext
from tests.prompt.worked_example import ALICE

NOW = datetime(2026, 11, 22, 17, 30, tzinfo=UTC)


def scene(
    card: CharacterCard | None = ALICE,
    *,
    system_prompt: str | None = None,
    persona: str = "",
    user: str = "Bob",
    group: tuple[str, ...] = (),
) -> Scene:
    char = card.char_name if card else "Assistant"
    macros = MacroContext(char=char, user=user, now=NOW, group=group)
    return Scene(macros, system_prompt=system_prompt, character=card, persona_description=persona)


def system(text: str, name: str | None = None) -> ChatMessage:
    return ChatMessage(Role.SYSTEM, text, name)


def stored(
    role: Role, content: str, status: MessageStatus = MessageStatus.COMPLETE
) -> StoredMessage:
    return StoredMessage(MessageId(1), role, content, status)


def test_spec_worked_example_parts() -> None:
    """The worked card gives its main prompt, fields, example, chat header and instructions."""
    parts = draft(scene())
    assert parts.before == (
        system("Write Alice's next reply in a fictional chat between Alice and Bob."),
        system("Alice is a cat who lives with Bob."),
        system("curious"),
        system("A sunny afternoon."),
    )
    assert parts.example_header == system(EXAMPLE_CHAT_PROMPT)
    assert parts.example_blocks == (
        (system("Hi", "example_user"), system("Meow.", "example_assistant")),
    )
    assert parts.chat_header == system(NEW_CHAT_PROMPT)
    assert parts.after == (system("Stay in character as Alice."),)


def test_empty_fields_are_left_out() -> None:
    """A card field that is empty, or only blanks, sends no message at all."""
    card = CharacterCard(name="Rex", description="  \n", personality="", scenario="Park.")
    parts = draft(scene(card))
    assert [m.content for m in parts.before] == [
        "Write Rex's next reply in a fictional chat between Rex and Bob.",
        "Park.",
    ]
    assert parts.example_blocks == ()
    assert parts.after == ()


def test_fields_are_trimmed_and_lose_carriage_returns() -> None:
    """Card text is sent trimmed and without \\r, as the reference sends it."""
    card = CharacterCard(name="Rex", description="\n  A dog.\r\nLoyal.  \n")
    assert draft(scene(card)).before[1].content == "A dog.\nLoyal."


def test_persona_comes_after_the_main_prompt() -> None:
    """The persona's description sits between the main prompt and the card's description."""
    parts = draft(scene(persona="{{user}} is tall."))
    assert parts.before[1] == system("Bob is tall.")
    assert parts.before[2] == system("Alice is a cat who lives with Bob.")


def test_channel_prompt_is_the_main_prompt() -> None:
    """The channel's own system prompt takes the default main prompt's place."""
    parts = draft(scene(system_prompt="Narrate {{char}} for {{user}}."))
    assert parts.before[0] == system("Narrate Alice for Bob.")


def test_card_system_prompt_gets_the_original() -> None:
    """A card's system prompt wins, with the prompt it replaces as {{original}}."""
    card = CharacterCard(name="Rex", system_prompt="{{original}} Also: bark.")
    assert draft(scene(card, system_prompt="Be brief.")).before[0].content == (
        "Be brief. Also: bark."
    )
    assert draft(scene(card)).before[0].content == (
        "Write Rex's next reply in a fictional chat between Rex and Bob. Also: bark."
    )


def test_blank_card_system_prompt_keeps_the_channels() -> None:
    """A card system prompt of blanks means "use the user's own"."""
    card = CharacterCard(name="Rex", system_prompt="   ")
    assert draft(scene(card, system_prompt="Be brief.")).before[0].content == "Be brief."


def test_post_history_instructions_have_no_original() -> None:
    """There is no channel post-history prompt, so {{original}} in the card's is empty."""
    card = CharacterCard(name="Rex", post_history_instructions="{{original}}Stay a dog.")
    assert draft(scene(card)).after == (system("Stay a dog."),)


def test_group_main_prompt_lists_the_cast() -> None:
    """In a group, {{charIfNotGroup}} is the cast the caller gives (the character and the
    other people), and {{user}} the speaker."""
    parts = draft(scene(group=("Alice", "Cid")))
    assert parts.before[0].content == (
        "Write Alice's next reply in a fictional chat between Alice, Cid and Bob."
    )


def test_without_a_character_only_the_system_prompt() -> None:
    """No character: the channel's system prompt alone, no headers or examples."""
    parts = draft(scene(None, system_prompt="Be brief."))
    assert parts.before == (system("Be brief."),)
    assert parts.chat_header is None
    assert parts.example_blocks == ()
    assert parts.after == ()
    assert draft(scene(None)).before == ()


def test_continuing_puts_the_nudge_before_the_instructions() -> None:
    """When continuing, the nudge closes the chat, before the post-history instructions."""
    parts = draft(scene(), continuing=True)
    assert parts.after == (system(CONTINUE_NUDGE), system("Stay in character as Alice."))
    assert draft(scene(None), continuing=True).after == (system(CONTINUE_NUDGE),)


def test_user_turns_get_the_speakers_name_in_groups() -> None:
    """A named user turn starts with "Name: "; the bot's turns and 1:1 turns stay bare."""
    user = stored(Role.USER, "hello")
    assert history_message(user, speaker_name="Ann").content == "Ann: hello"
    assert history_message(user, speaker_name=None).content == "hello"
    bot = stored(Role.ASSISTANT, "hi")
    assert history_message(bot, speaker_name="Ann").content == "hi"


def test_stored_images_become_parts() -> None:
    """A stored message's images come back after its text."""
    message = StoredMessage(
        MessageId(1),
        Role.USER,
        "look",
        MessageStatus.COMPLETE,
        images=("data:image/png;base64,AA",),
    )
    shown = history_message(message, speaker_name=None)
    assert shown.content == "look"
    assert shown.parts == ("look", MediaPart("data:image/png;base64,AA"))
    assert with_images(ChatMessage(Role.USER, ""), ["u"]).parts == (MediaPart("u"),)


def test_finished_and_cut_off_replies_are_history() -> None:
    """Finished replies, and replies stopped or cut off by a crash after some text, were
    said in the chat and go back to the model; failed, pending and empty ones never do."""
    assert is_prompt_history(stored(Role.ASSISTANT, "done"))
    assert is_prompt_history(stored(Role.USER, "hi"))
    assert not is_prompt_history(stored(Role.ASSISTANT, ""))
    for status in (MessageStatus.STOPPED, MessageStatus.INTERRUPTED):
        assert is_prompt_history(stored(Role.ASSISTANT, "part", status))
        assert not is_prompt_history(stored(Role.ASSISTANT, "", status))
    for status in (MessageStatus.ERROR, MessageStatus.PENDING):
        assert not is_prompt_history(stored(Role.ASSISTANT, "part", status))
