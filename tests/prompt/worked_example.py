"""A card taken through SillyTavern's prompt assembly, shared by the tests that check it at
each layer: the assembler, the service's turn, and the console end to end.

Alice is the character, Bob the user; `SPEC_ASSEMBLED` is the list SillyTavern sends for the
first user message "Hey Alice" with post-processing None, and `MERGED_SYSTEM` the system
message the merging modes make of its head.
"""

from __future__ import annotations

from typing import Any

from bot.characters.card import CharacterCard

ALICE = CharacterCard(
    name="Alice",
    description="{{char}} is a cat who lives with {{user}}.",
    personality="curious",
    scenario="A sunny afternoon.",
    first_mes="*stretches* Hello, {{user}}.",
    mes_example="<START>\n{{user}}: Hi\n{{char}}: Meow.",
    system_prompt="",
    post_history_instructions="Stay in character as {{char}}.",
)

MAIN_PROMPT = "Write Alice's next reply in a fictional chat between Alice and Bob."

SPEC_ASSEMBLED: list[dict[str, Any]] = [
    {"role": "system", "content": MAIN_PROMPT},
    {"role": "system", "content": "Alice is a cat who lives with Bob."},
    {"role": "system", "content": "curious"},
    {"role": "system", "content": "A sunny afternoon."},
    {"role": "system", "content": "[Example Chat]"},
    {"role": "system", "content": "Hi", "name": "example_user"},
    {"role": "system", "content": "Meow.", "name": "example_assistant"},
    {"role": "system", "content": "[Start a new Chat]"},
    {"role": "assistant", "content": "*stretches* Hello, Bob."},
    {"role": "user", "content": "Hey Alice"},
    {"role": "system", "content": "Stay in character as Alice."},
]

MERGED_SYSTEM = (
    f"{MAIN_PROMPT}\n\n"
    "Alice is a cat who lives with Bob.\n\ncurious\n\nA sunny afternoon.\n\n"
    "[Example Chat]\n\nBob: Hi\n\nAlice: Meow.\n\n[Start a new Chat]"
)
