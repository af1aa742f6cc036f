"""/character, /greeting and /persona as a user meets them: what each answers, what it keeps."""

from __future__ import annotations

from bot.characters.card import CharacterCard
from bot.characters.export import card_to_json
from bot.characters.parse import read_card
from bot.core.domain import Attachment, MessageStatus, Permission, Role
from tests.fakes.openai.scripted_client import reply
from tests.service.conftest import CHANNEL, Harness
from tests.service.turns.test_prompt_assembly import (
    ALICE,
    alice_with,
    bring,
    card_command,
    png_file,
    sent,
)

MEMBER = Permission.EVERYONE
ADMIN = Permission.CHANNEL_ADMIN


async def chat(harness: Harness) -> list[tuple[str, str]]:
    state = await harness.store.load_channel(CHANNEL)
    rows = await harness.store.history(state.chat_id, limit=100)
    return [(m.role.value, m.content) for m in rows]


async def test_import_names_what_the_card_holds(harness: Harness) -> None:
    """Importing a PNG card says what came in and how to bring it into the channel."""
    answer = await card_command(harness, "import", files=(png_file(ALICE),))
    assert answer.text.startswith("Imported Alice: 1 greeting, example dialogue.")
    assert "/character use name:Alice" in answer.text
    listed = await card_command(harness, "list")
    assert listed.text == "Characters:\n• Alice"


async def test_import_of_a_json_card_works_too(harness: Harness) -> None:
    """A V2 JSON card file is read like a PNG one."""
    file = Attachment("rex.json", "application/json", card_to_json(CharacterCard("Rex")))
    answer = await card_command(harness, "import", files=(file,))
    assert answer.text.startswith("Imported Rex")


async def test_importing_again_replaces_the_card(harness: Harness) -> None:
    """A card with a name already in the library replaces it, and says so."""
    await card_command(harness, "import", files=(png_file(ALICE),))
    changed = alice_with(personality="sleepy")
    answer = await card_command(harness, "import", files=(png_file(changed),))
    assert answer.text.startswith("Replaced Alice")
    assert (await card_command(harness, "list")).text == "Characters:\n• Alice"
    harness.client.scripts.append(reply("zzz"))
    await card_command(harness, "use", name="Alice")
    await harness.say("hi")
    assert {"role": "system", "content": "sleepy"} in sent(harness)


async def test_broken_card_is_refused_and_nothing_is_stored(harness: Harness) -> None:
    """A file that is no card answers with the card error and leaves the library as it was."""
    broken = Attachment("cat.png", "image/png", png_file(ALICE).data[:40])
    answer = await card_command(harness, "import", files=(broken,))
    assert answer.text == "The PNG file is cut short. Download or export the card again."
    plain = Attachment("notes.txt", "text/plain", b"just some notes")
    answer = await card_command(harness, "import", files=(plain,))
    assert '"notes.txt" is not a PNG, JSON or CHARX file' in answer.text
    assert "No characters yet" in (await card_command(harness, "list")).text


async def test_import_with_nothing_attached_explains(harness: Harness) -> None:
    """/character import without a file or link says how to give one."""
    answer = await card_command(harness, "import")
    assert "Send the card" in answer.text


async def test_import_from_a_dead_link_says_so(harness: Harness) -> None:
    """A card link that cannot be downloaded is reported, and nothing is stored."""
    answer = await card_command(harness, "import", url="http://cards.example/alice.png")
    assert "couldn't download the card" in answer.text
    assert "No characters yet" in (await card_command(harness, "list")).text


async def test_use_opens_a_new_chat_with_the_greeting(harness: Harness) -> None:
    """/character use archives the chat so far; the new one holds only the greeting."""
    harness.client.scripts.append(reply("hello"))
    await harness.say("old talk")
    greeting = await bring(harness, ALICE)
    assert greeting.text == "*stretches* Hello, Ann."
    assert await chat(harness) == [("assistant", "*stretches* Hello, Ann.")]
    assert "• Alice (here)" in (await card_command(harness, "list")).text


async def test_use_of_an_unknown_character_names_the_way_out(harness: Harness) -> None:
    """Asking for a character that is not in the library points at /character list."""
    answer = await card_command(harness, "use", name="Nobody")
    assert "There is no character 'Nobody'" in answer.text
    assert "/character list" in answer.text


async def test_card_without_greeting_opens_an_empty_chat(harness: Harness) -> None:
    """A character with no greeting arrives silently, and the first turn has no greeting."""
    await card_command(harness, "import", files=(png_file(CharacterCard("Mute")),))
    answer = await card_command(harness, "use", name="Mute")
    assert answer.text == "Mute is here; the earlier chat is archived."
    assert answer.speaker is None
    assert await chat(harness) == []


async def test_greeting_reads_the_services_clock(harness: Harness) -> None:
    """Date macros in a greeting come from the service's wall clock, like the prompt's."""
    answer = await bring(harness, alice_with(first_mes="Happy {{weekday}}, {{isodate}}!"))
    assert answer.text == "Happy Sunday, 2026-11-22!"


async def test_alternate_greetings_are_counted_and_chosen_by_greeting(harness: Harness) -> None:
    """/greeting index:1 opens a new chat with the first alternate greeting."""
    card = alice_with(alternate_greetings=("*yawns* Oh, {{user}}.", "Purr."))
    first = await bring(harness, card)
    assert first.text == "*stretches* Hello, Ann.\n*(1/3, /swipe for another)*"
    harness.client.scripts.append(reply("hi"))
    await harness.say("hello")
    other = await harness.command("greeting", index="1")
    assert other.text == "*yawns* Oh, Ann.\n*(2/3, /swipe for another)*"
    assert other.speaker == "Alice"
    assert await chat(harness) == [("assistant", "*yawns* Oh, Ann.")]
    harness.client.scripts.append(reply("meow"))
    await harness.say("hey")
    assert [m for m in sent(harness) if m["role"] == "assistant"] == [
        {"role": "assistant", "content": "*yawns* Oh, Ann."}
    ]


async def test_greeting_index_out_of_range_is_refused(harness: Harness) -> None:
    """An index past the last greeting says which ones exist, and the chat stays."""
    await bring(harness, ALICE)
    answer = await harness.command("greeting", index="3")
    assert "index must be from 0 to 0" in answer.text
    assert await chat(harness) == [("assistant", "*stretches* Hello, Ann.")]


async def test_greeting_needs_a_character(harness: Harness) -> None:
    """/greeting in a channel without a character says how to get one."""
    answer = await harness.command("greeting")
    assert "no character" in answer.text


async def test_show_previews_the_card(harness: Harness) -> None:
    """/character show gives the card's fields without sending anything to the model."""
    await bring(harness, ALICE)
    shown = await card_command(harness, "show", permission=MEMBER)
    assert shown.text.startswith("**Alice**")
    assert "Description: {{char}} is a cat who lives with {{user}}." in shown.text
    assert "Greetings: 1" in shown.text
    assert harness.client.requests == []


async def test_export_reads_back_equal(harness: Harness) -> None:
    """An exported PNG or JSON, imported again, is the same card."""
    card = alice_with(alternate_greetings=("Purr.",), creator_notes="made for tests")
    await card_command(harness, "import", files=(png_file(card),))
    for form in ("png", "json", "json_v3"):
        exported = await card_command(
            harness, "export", permission=MEMBER, name="Alice", format=form
        )
        assert exported.file is not None, exported.text
        back = read_card(exported.file.data, filename=exported.file.filename).card
        fields = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
        assert {f: getattr(back, f) for f in fields} == {f: getattr(card, f) for f in fields}
        assert back.alternate_greetings == ("Purr.",)
        assert back.post_history_instructions == card.post_history_instructions
        assert back.creator_notes == "made for tests"
    png = await card_command(harness, "export", name="Alice")
    assert png.file is not None
    assert png.file.filename == "Alice.png"
    assert png.file.content_type == "image/png"


async def test_remove_forgets_the_card_and_frees_the_channel(harness: Harness) -> None:
    """/character remove deletes the card; the channel using it goes back to no character."""
    await bring(harness, ALICE)
    answer = await card_command(harness, "remove", name="Alice")
    assert answer.text.startswith("Removed Alice.")
    assert "1 channel(s) had it" in answer.text
    assert "No characters yet" in (await card_command(harness, "list")).text
    assert (await harness.store.load_channel(CHANNEL)).character_id is None
    harness.client.scripts.append(reply("ok"))
    await harness.say("hi")
    assert "[Start a new Chat]" not in [m["content"] for m in sent(harness)]


async def test_members_may_look_but_not_change(harness: Harness) -> None:
    """A member can list, show and export, but not import, use or remove."""
    await card_command(harness, "import", files=(png_file(ALICE),))
    refused = await card_command(harness, "import", permission=MEMBER, files=(png_file(ALICE),))
    assert "needs the right to manage this channel" in refused.text
    for action in ("use", "remove"):
        answer = await card_command(harness, action, permission=MEMBER, name="Alice")
        assert "needs the right to manage this channel" in answer.text
    assert (await harness.store.load_channel(CHANNEL)).character_id is None
    assert "• Alice" in (await card_command(harness, "list", permission=MEMBER)).text
    shown = await card_command(harness, "show", permission=MEMBER, name="Alice")
    assert shown.text.startswith("**Alice**")
    exported = await card_command(harness, "export", permission=MEMBER, name="Alice")
    assert exported.file is not None
    greeting = await harness.command("greeting", permission=MEMBER)
    assert "needs the right to manage this channel" in greeting.text


async def test_admins_of_the_channel_may_change(harness: Harness) -> None:
    """A channel admin can import and use a character."""
    imported = await card_command(harness, "import", permission=ADMIN, files=(png_file(ALICE),))
    assert imported.text.startswith("Imported")
    used = await card_command(harness, "use", permission=ADMIN, name="Alice")
    assert used.speaker == "Alice"


async def test_replacing_or_removing_a_shared_card_takes_a_server_admin(
    harness: Harness,
) -> None:
    """Every channel of a server shares its characters: a channel admin may add one, but
    replacing or removing one other channels use takes the right to manage the server."""
    await card_command(harness, "import", permission=ADMIN, files=(png_file(ALICE),))
    changed = alice_with(description="Someone else entirely.")
    replaced = await card_command(harness, "import", permission=ADMIN, files=(png_file(changed),))
    assert "manage the server" in replaced.text
    removed = await card_command(harness, "remove", permission=ADMIN, name="Alice")
    assert "manage the server" in removed.text
    shown = await card_command(harness, "show", permission=ADMIN, name="Alice")
    assert "a cat who lives with" in shown.text
    server = Permission.SERVER_ADMIN
    replaced = await card_command(harness, "import", permission=server, files=(png_file(changed),))
    assert replaced.text.startswith("Replaced Alice")
    removed = await card_command(harness, "remove", permission=server, name="Alice")
    assert removed.text.startswith("Removed Alice")


# /persona


async def test_persona_names_the_user_and_describes_them(harness: Harness) -> None:
    """/persona makes {{user}} the persona's name and its description the second system
    message."""
    harness.client.scripts.append(reply("*purrs*"))
    answer = await harness.command(
        "persona", permission=MEMBER, name="Bob", description="{{user}} is tall."
    )
    assert "Bob" in answer.text
    await bring(harness, ALICE)
    await harness.say("Hey Alice")
    messages = sent(harness)
    assert messages[0]["content"] == (
        "Write Alice's next reply in a fictional chat between Alice and Bob."
    )
    assert messages[1] == {"role": "system", "content": "Bob is tall."}
    assert messages[2]["content"] == "Alice is a cat who lives with Bob."


async def test_persona_without_options_says_who_you_are(harness: Harness) -> None:
    """/persona alone shows the persona, or how to choose one."""
    assert "You are Ann here" in (await harness.command("persona")).text
    await harness.command("persona", name="Bob", description="Tall.")
    assert (await harness.command("persona")).text == "You are Bob: Tall."


async def test_persona_description_reaches_a_channel_without_a_character(
    harness: Harness,
) -> None:
    """The persona's description is sent after the system prompt even with no character."""
    harness.client.scripts.append(reply("ok"))
    await harness.command("system", prompt="Be kind to {{user}}.")
    await harness.command("persona", name="Bob", description="Bob likes tea.")
    await harness.say("hi")
    assert sent(harness) == [
        {"role": "system", "content": "Be kind to Bob."},
        {"role": "system", "content": "Bob likes tea."},
        {"role": "user", "content": "hi"},
    ]


async def test_persona_dash_forgets_it(harness: Harness) -> None:
    """/persona name:- forgets the persona: {{user}} is the display name again."""
    harness.client.scripts.append(reply("*purrs*"))
    await harness.command("persona", name="Bob", description="Bob is tall.")
    forgot = await harness.command("persona", name="-")
    assert "Ann" in forgot.text
    assert "Ann" in (await harness.command("persona")).text
    await bring(harness, ALICE)
    await harness.say("Hey Alice")
    messages = sent(harness)
    assert messages[1]["content"] == "Alice is a cat who lives with Ann."
    assert all("Bob" not in m["content"] for m in messages)


async def test_persona_is_per_user(harness: Harness) -> None:
    """One user's persona does not rename another user."""
    await harness.command("persona", name="Bob")
    shown = await harness.command("persona", user="cid")
    assert "You are Cid here" in shown.text


async def test_persona_needs_a_name_of_sensible_length(harness: Harness) -> None:
    """A description without a name, or an overlong name, is refused and nothing changes."""
    assert "needs name" in (await harness.command("persona", name=" ", description="x")).text
    assert "64 characters" in (await harness.command("persona", name="n" * 65)).text
    assert "You are Ann here" in (await harness.command("persona")).text


async def test_greeting_stored_is_the_one_shown(harness: Harness) -> None:
    """The greeting is stored as a finished reply of the character's, as it was shown."""
    await harness.command("persona", name="Bob")
    await bring(harness, ALICE)
    state = await harness.store.load_channel(CHANNEL)
    (greeting,) = await harness.store.history(state.chat_id, limit=10)
    assert greeting.role is Role.ASSISTANT
    assert greeting.status is MessageStatus.COMPLETE
    assert greeting.content == "*stretches* Hello, Bob."


async def test_settings_name_the_channels_character(harness: Harness) -> None:
    """/settings says who talks here, and says so when the card was removed."""
    assert "Character: none" in (await harness.command("settings")).text
    await bring(harness, ALICE)
    assert "Character: Alice" in (await harness.command("settings")).text
    await card_command(harness, "remove", name="Alice")
    assert "Character: none" in (await harness.command("settings")).text
