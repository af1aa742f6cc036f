"""The prompt a turn sends once a channel has a character: the worked example
(tests/prompt/worked_example.py) end to end, persona, the channel's own prompt, several
people talking, and post-processing of the whole."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from bot.app import Stores
from bot.characters.card import CharacterCard
from bot.characters.export import card_to_png
from bot.core.domain import (
    Actor,
    Attachment,
    ChatMessage,
    CommandCall,
    CommandResult,
    Connection,
    MessageStatus,
    Permission,
    Role,
    TokenCounts,
)
from bot.prompt.budget import estimate_tokens
from bot.service.turns.prompting import Budget
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import ScriptedClient, reply
from tests.prompt.worked_example import ALICE, MERGED_SYSTEM, SPEC_ASSEMBLED
from tests.service.conftest import CHANNEL, Harness, build_service

SPEC_MERGE = [
    {"role": "system", "content": MERGED_SYSTEM},
    {"role": "assistant", "content": "*stretches* Hello, Bob."},
    {"role": "user", "content": "Hey Alice"},
    {"role": "system", "content": "Stay in character as Alice."},
]
SPEC_SEMI = [
    *SPEC_MERGE[:2],
    {"role": "user", "content": "Hey Alice\n\nStay in character as Alice."},
]
SPEC_STRICT = [
    SPEC_MERGE[0],
    {"role": "user", "content": "[Start a new chat]"},
    SPEC_MERGE[1],
    {"role": "user", "content": "Hey Alice\n\nStay in character as Alice."},
]
SPEC_SINGLE = [
    {
        "role": "user",
        "content": MERGED_SYSTEM
        + "\n\nAlice: *stretches* Hello, Bob.\n\nBob: Hey Alice\n\nStay in character as Alice.",
    }
]


def alice_with(**changes: Any) -> CharacterCard:
    """ALICE with other fields; `data` is rebuilt, since it is what storage and export keep."""
    return dataclasses.replace(ALICE, data={}, **changes)


async def card_command(
    harness: Harness,
    action: str,
    *,
    files: tuple[Attachment, ...] = (),
    permission: Permission = Permission.OPERATOR,
    user: str = "ann",
    **options: str,
) -> CommandResult:
    """/character with files attached, as a platform adapter hands them over."""
    call = CommandCall(
        "character",
        {"action": action, **options},
        CHANNEL,
        Actor(user, user.title(), permission),
        attachments=files,
    )
    return await harness.service.run_command(call)


def png_file(card: CharacterCard, filename: str | None = None) -> Attachment:
    return Attachment(filename or f"{card.name}.png", "image/png", card_to_png(card, None))


async def bring(harness: Harness, card: CharacterCard) -> CommandResult:
    """Import `card` as a PNG and make it this channel's character; the greeting comes back."""
    imported = await card_command(harness, "import", files=(png_file(card),))
    assert imported.text.startswith(("Imported", "Replaced")), imported.text
    return await card_command(harness, "use", name=card.name)


def wire(messages: tuple[ChatMessage, ...]) -> list[dict[str, str]]:
    """The messages as the spec writes them: role, content, and a name when there is one."""
    shown = []
    for message in messages:
        entry = {"role": message.role.value, "content": message.content}
        if message.name is not None:
            entry["name"] = message.name
        shown.append(entry)
    return shown


def sent(harness: Harness) -> list[dict[str, str]]:
    return wire(harness.client.requests[-1].messages)


async def test_greeting_comes_back_as_the_characters_words(harness: Harness) -> None:
    """/character use answers with the greeting, said by the character, {{user}} resolved."""
    await harness.command("persona", name="Bob")
    greeting = await bring(harness, ALICE)
    assert greeting.text == "*stretches* Hello, Bob."
    assert greeting.speaker == "Alice"
    assert greeting.ephemeral is False


async def test_greeting_without_a_persona_uses_the_display_name(harness: Harness) -> None:
    """With no persona, {{user}} in the greeting is the caller's display name."""
    greeting = await bring(harness, ALICE)
    assert greeting.text == "*stretches* Hello, Ann."


async def test_prompt_is_the_spec_worked_example(harness: Harness) -> None:
    """The request for the first turn after the greeting is exactly the worked example's list."""
    harness.client.scripts.append(reply("*purrs*"))
    await harness.command("persona", name="Bob")
    await bring(harness, ALICE)
    await harness.say("Hey Alice")
    assert sent(harness) == SPEC_ASSEMBLED


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("merge", SPEC_MERGE),
        ("semi", SPEC_SEMI),
        ("strict", SPEC_STRICT),
        ("single", SPEC_SINGLE),
    ],
)
async def test_postprocessed_prompt_is_the_spec_worked_example(
    harness: Harness, mode: str, expected: list[dict[str, str]]
) -> None:
    """Each /postprocess mode sends the worked example's output for it, message for message."""
    harness.client.scripts.append(reply("*purrs*"))
    await harness.command("persona", name="Bob")
    await harness.command("postprocess", mode=mode)
    await bring(harness, ALICE)
    await harness.say("Hey Alice")
    assert sent(harness) == expected, json.dumps(sent(harness), indent=1)


async def test_card_system_prompt_wraps_the_channel_prompt(harness: Harness) -> None:
    """A card's system_prompt replaces the main prompt, with the channel's /system as its
    first {{original}}; a second {{original}} is empty."""
    card = CharacterCard(
        name="Rex",
        first_mes="Woof.",
        system_prompt="{{original}}\nYou are {{char}}, a dog.{{original}}",
    )
    harness.client.scripts.append(reply("Woof!"))
    await harness.command("system", prompt="Be brief, {{user}}.")
    await bring(harness, card)
    await harness.say("Sit")
    assert sent(harness)[0] == {
        "role": "system",
        "content": "Be brief, Ann.\nYou are Rex, a dog.",
    }


async def test_card_system_prompt_wraps_the_default_without_a_channel_prompt(
    harness: Harness,
) -> None:
    """Without /system, {{original}} is the default main prompt."""
    card = CharacterCard(name="Rex", first_mes="Woof.", system_prompt="{{original}} Bark.")
    harness.client.scripts.append(reply("Woof!"))
    await bring(harness, card)
    await harness.say("Sit")
    assert sent(harness)[0]["content"] == (
        "Write Rex's next reply in a fictional chat between Rex and Ann. Bark."
    )


async def test_channel_prompt_replaces_the_default_main_prompt(harness: Harness) -> None:
    """A card without a system prompt keeps the channel's /system prompt as the main one."""
    harness.client.scripts.append(reply("*purrs*"))
    await harness.command("system", prompt="Narrate for {{char}}.")
    await bring(harness, ALICE)
    await harness.say("Hey Alice")
    assert sent(harness)[0] == {"role": "system", "content": "Narrate for Alice."}
    assert sent(harness)[1]["content"] == "Alice is a cat who lives with Ann."


async def test_without_a_character_the_prompt_is_as_before(harness: Harness) -> None:
    """No character: the channel's system prompt and the history, no headers or examples."""
    harness.client.scripts += [reply("first"), reply("second")]
    await harness.command("system", prompt="Be brief.")
    await harness.say("one")
    await harness.say("two")
    assert sent(harness) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "first"},
        {"role": "user", "content": "two"},
    ]


async def test_without_a_character_or_system_prompt_only_history_is_sent(
    harness: Harness,
) -> None:
    """No character and no /system: the messages alone."""
    harness.client.scripts.append(reply("hello"))
    await harness.say("hi")
    assert sent(harness) == [{"role": "user", "content": "hi"}]


async def test_several_people_are_told_apart_by_name(harness: Harness) -> None:
    """Once two people talk in a channel, every user turn starts with "Name: "."""
    harness.client.scripts += [reply("hi Ann"), reply("hi Cid")]
    await harness.command("persona", user="cid", name="Cyd")
    await harness.say("hello", author="ann")
    await harness.say("me too", author="cid")
    users = [m["content"] for m in sent(harness) if m["role"] == "user"]
    assert users == ["Ann: hello", "Cyd: me too"]


async def test_one_person_gets_no_name_prefix(harness: Harness) -> None:
    """A 1:1 chat sends the user's words as they are."""
    harness.client.scripts += [reply("a"), reply("b")]
    await harness.say("one")
    await harness.say("two")
    users = [m["content"] for m in sent(harness) if m["role"] == "user"]
    assert users == ["one", "two"]


async def test_group_main_prompt_names_everyone(harness: Harness) -> None:
    """In a group, the default main prompt names the character, the others and the speaker,
    each once."""
    harness.client.scripts += [reply("a"), reply("b")]
    await bring(harness, ALICE)
    await harness.say("hello", author="ann")
    await harness.say("me too", author="cid")
    assert sent(harness)[0]["content"] == (
        "Write Alice's next reply in a fictional chat between Alice, Ann and Cid."
    )
    assert [m["content"] for m in sent(harness) if m["role"] == "user"] == [
        "Ann: hello",
        "Cid: me too",
    ]


async def test_user_turns_are_stored_without_the_name_prefix(harness: Harness) -> None:
    """The name prefix is for the model only: the stored message is the user's own text."""
    harness.client.scripts += [reply("a"), reply("b")]
    await harness.say("hello", author="ann")
    await harness.say("me too", author="cid")
    state = await harness.store.load_channel(CHANNEL)
    rows = await harness.store.history(state.chat_id, limit=10)
    assert [m.content for m in rows if m.role is Role.USER] == ["hello", "me too"]


# Budget. Without a tokenizer every text costs ceil(bytes / 3.35) tokens, and a message
# 1 (role) + that + 3 (framing): a 335-byte message costs 104 tokens, "ok" costs 5.
LONG = 335
HARNESS_BUDGET = Budget(page_size=50)


def long_text(tag: str) -> str:
    return (tag + " ").ljust(LONG, "x")


class CountingCounter:
    """Estimates like the bot without a tokenizer, and remembers every text it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def count(self, connection: Connection, model: str, texts: Sequence[str]) -> TokenCounts:
        self.asked.extend(texts)
        return TokenCounts("estimate", tuple(estimate_tokens(text) for text in texts))


def counting_service(
    stores: Stores[SqlStore],
    client: ScriptedClient,
    counter: CountingCounter,
    *,
    budget: Budget = HARNESS_BUDGET,
) -> Harness:
    """The standard harness, but counting tokens through `counter` (a fresh TokenBook: a
    process that just started) and reading history as `budget` says."""
    clock = FakeClock(auto=True)
    operator = Connection("http://operator.example/v1", model="m", trusted=True)
    service = build_service(
        stores, client, clock, default=operator, token_counter=counter, budget=budget
    )
    return Harness(service, stores, client, clock)


async def test_older_history_drops_first(harness: Harness) -> None:
    """In a small context the oldest messages go, the newest run stays, without gaps."""
    await harness.command("params", context_size="600", max_tokens="100")  # 497 for the prompt
    for n in range(1, 6):
        harness.client.scripts.append(reply("ok"))
        await harness.say(long_text(f"m{n}"))
    # 104 for m5, then newest first: ok 5, m4 104, ok, m3, ok, m2 = 327 -> 66 left, ok 5 -> 61
    # left, and m1 (104) no longer fits.
    assert [m["content"][:2] for m in sent(harness)] == [
        "ok",
        "m2",
        "ok",
        "m3",
        "ok",
        "m4",
        "ok",
        "m5",
    ]


async def test_examples_drop_before_history(harness: Harness) -> None:
    """As a chat grows, the example dialogue goes before any of the chat itself."""
    card = alice_with(mes_example="<START>\n{{user}}: " + "y" * 600 + "\n{{char}}: Meow.")
    await harness.command("params", context_size="900", max_tokens="100")
    await bring(harness, card)
    said: list[str] = []
    for n in range(1, 8):
        harness.client.scripts.append(reply("ok"))
        said.append(long_text(f"m{n}"))
        await harness.say(said[-1])
        contents = [m["content"] for m in sent(harness)]
        if "[Example Chat]" not in contents:
            break
    else:
        pytest.fail("the examples never left the prompt")
    assert n > 1  # they were there while there was room
    assert "*stretches* Hello, Ann." in contents
    assert [c for c in contents if c.startswith("m")] == said


async def test_a_message_too_big_for_the_context_is_refused_and_not_stored(
    harness: Harness,
) -> None:
    """A message that cannot fit says why and what to do, and is not kept in the chat."""
    await harness.command("params", context_size="300", max_tokens="50")
    replier = harness.replier()
    outcome = await harness.say("z" * 2000, replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert "The message needs" in replier.texts[-1]
    assert "/params context_size" in replier.texts[-1]
    assert harness.client.requests == []
    state = await harness.store.load_channel(CHANNEL)
    assert await harness.store.history(state.chat_id, limit=10) == []
    harness.client.scripts.append(reply("ok"))
    await harness.say("small")
    assert sent(harness) == [{"role": "user", "content": "small"}]


async def test_a_character_too_big_for_the_context_says_so(harness: Harness) -> None:
    """When the card alone overflows the context, the user is told it is the character."""
    card = alice_with(description="w" * 3000)
    await harness.command("params", context_size="300", max_tokens="50")
    await bring(harness, card)
    replier = harness.replier()
    outcome = await harness.say("hi", replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert "The character needs" in replier.texts[-1]
    assert harness.client.requests == []


async def test_token_counts_are_not_counted_twice(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """Over several turns, each message's text goes to the tokenizer once."""
    counter = CountingCounter()
    harness = counting_service(stores, client, counter)
    for n in range(1, 5):
        client.scripts.append(reply(f"reply {n}"))
        await harness.say(f"message {n}")
    counted = Counter(counter.asked)
    assert {text: counted[text] for text in counted if counted[text] > 1} == {}
    assert counted["message 1"] == 1
    assert counted["reply 1"] == 1


async def test_a_restart_does_not_recount_the_history(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """A process that starts afresh reuses the counts stored with the messages."""
    first = counting_service(stores, client, CountingCounter())
    for n in range(1, 4):
        client.scripts.append(reply(f"reply {n}"))
        await first.say(f"message {n}")
    counter = CountingCounter()
    restarted = counting_service(stores, client, counter)
    client.scripts.append(reply("reply 4"))
    await restarted.say("message 4")
    # The last turn's messages were first read back after the restart; the older ones
    # were counted while the first process ran, and kept their counts.
    counted_before = {"message 1", "reply 1", "message 2", "reply 2"}
    assert counted_before.isdisjoint(counter.asked)
    assert [m.content for m in client.requests[-1].messages][-1] == "message 4"


async def test_history_is_read_page_by_page_in_order(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """History longer than a page is read back whole, in order, with nothing twice."""
    harness = counting_service(stores, client, CountingCounter(), budget=Budget(page_size=3))
    await harness.command("system", prompt="Be brief.")
    for n in range(1, 5):
        client.scripts.append(reply(f"reply {n}"))
        await harness.say(f"message {n}")
    assert [m["content"] for m in sent(harness)] == [
        "Be brief.",
        "message 1",
        "reply 1",
        "message 2",
        "reply 2",
        "message 3",
        "reply 3",
        "message 4",
    ]


async def test_no_more_than_max_messages_are_read(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """However big the context, a prompt holds at most the newest `max_messages` stored
    messages, and the new one."""
    budget = Budget(max_messages=3, page_size=2)
    harness = counting_service(stores, client, CountingCounter(), budget=budget)
    for n in range(1, 5):
        client.scripts.append(reply(f"reply {n}"))
        await harness.say(f"message {n}")
    assert [m["content"] for m in sent(harness)] == [
        "reply 2",
        "message 3",
        "reply 3",
        "message 4",
    ]


async def test_older_pages_name_people_by_their_persona(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """Someone who spoke only before the newest page still goes by their persona's name."""
    harness = counting_service(stores, client, CountingCounter(), budget=Budget(page_size=2))
    await harness.command("persona", user="dan", name="Dax")
    client.scripts += [reply("a"), reply("b"), reply("c")]
    await harness.say("first", author="dan")
    await harness.say("second", author="ann")
    await harness.say("third", author="cid")
    users = [m["content"] for m in sent(harness) if m["role"] == "user"]
    assert users == ["Dax: first", "Ann: second", "Cid: third"]
