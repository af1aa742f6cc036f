"""/export as a user meets it: a file SillyTavern opens, or a transcript people read."""

from __future__ import annotations

import json
import re

from bot.characters.card import CharacterCard
from bot.core.domain import CommandResult, MessageStatus, NewUserMessage, Permission
from tests.fakes.openai.scripted_client import reply
from tests.service.conftest import CHANNEL, Harness
from tests.service.turns.test_prompt_assembly import bring

SERAPHINA = CharacterCard(
    "Seraphina", first_mes="*She looks up.* Evening, traveller.", description="A healer."
)
ISO_MILLISECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MEMBER = Permission.EVERYONE


async def told(harness: Harness, text: str, answer: str, status: MessageStatus) -> None:
    """A turn that ended with `status` after showing `answer`, as the reply runner ends one."""
    chat = (await harness.store.load_channel(CHANNEL)).chat_id
    ids = await harness.store.begin_turn(chat, NewUserMessage("bob", "Bob", text))
    await harness.store.finish_turn(
        ids.assistant_message_id, content=answer, reasoning="", status=status
    )


async def a_whole_conversation(harness: Harness) -> None:
    """A greeting; Ann's turn answered; Bob's answer stopped; one failed; one regenerated."""
    await bring(harness, SERAPHINA)
    harness.client.scripts.append(reply("Of course, ", "sit down."))
    await harness.say("May I rest here?")
    await told(harness, "Tell me a story.", "Once upon a", MessageStatus.STOPPED)
    await told(harness, "Are you there?", "half an err", MessageStatus.ERROR)
    await told(harness, "What is this place?", "A glade.", MessageStatus.COMPLETE)
    chat = (await harness.store.load_channel(CHANNEL)).chat_id
    pending = await harness.store.begin_regeneration(chat)
    await harness.store.finish_turn(
        pending.id,
        content="The Eldoria glade.",
        reasoning="be vivid",
        status=MessageStatus.COMPLETE,
    )
    failed = await harness.store.begin_regeneration(chat)  # kept in store, but never said
    await harness.store.finish_turn(
        failed.id, content="The Eld", reasoning="", status=MessageStatus.ERROR
    )


async def export(harness: Harness, form: str | None = None) -> CommandResult:
    """/export run by a member, with no format chosen unless `form` is given."""
    if form is None:
        return await harness.command("export", permission=MEMBER)
    return await harness.command("export", permission=MEMBER, format=form)


async def test_export_is_a_sillytavern_chat_file(harness: Harness) -> None:
    """Header first, then each message said with its speaker, date, text and swipes; the
    stopped reply keeps its words, the failed one is left out, as the model never read it."""
    await a_whole_conversation(harness)

    answer = await export(harness)

    assert answer.file is not None
    assert answer.file.filename == "Parlor - Seraphina - 2026-11-22.jsonl"
    assert "8 messages" in answer.text
    text = answer.file.data.decode()
    assert not text.endswith("\n")
    header, *messages = [json.loads(line) for line in text.split("\n")]
    assert header["user_name"] == header["character_name"] == "unused"
    assert header["chat_metadata"]["parlor"]["character_name"] == "Seraphina"
    assert [(m["name"], m["is_user"], m["mes"]) for m in messages] == [
        ("Seraphina", False, "*She looks up.* Evening, traveller."),
        ("Ann", True, "May I rest here?"),
        ("Seraphina", False, "Of course, sit down."),
        ("Bob", True, "Tell me a story."),
        ("Seraphina", False, "Once upon a"),
        ("Bob", True, "Are you there?"),
        ("Bob", True, "What is this place?"),
        ("Seraphina", False, "The Eldoria glade."),
    ]
    assert all(ISO_MILLISECONDS.match(m["send_date"]) for m in messages)
    assert all(m["is_system"] is False and isinstance(m["extra"], dict) for m in messages)
    users, replies = (
        [m for m in messages if m["is_user"]],
        [m for m in messages if not m["is_user"]],
    )
    assert all("swipes" not in m for m in users)
    assert all(m["swipes"][m["swipe_id"]] == m["mes"] for m in replies)
    regenerated = messages[-1]
    assert regenerated["swipes"] == ["A glade.", "The Eldoria glade."]
    assert regenerated["swipe_id"] == 1
    assert regenerated["extra"]["reasoning"] == "be vivid"
    assert len(regenerated["swipe_info"]) == 2


async def test_the_version_shown_is_the_swipe_chosen(harness: Harness) -> None:
    """After /swipe back to the first version, the file shows that one and keeps the other."""
    await a_whole_conversation(harness)
    await harness.store.choose_swipe((await harness.store.load_channel(CHANNEL)).chat_id, -1)

    answer = await export(harness)

    assert answer.file is not None
    last = json.loads(answer.file.data.decode().split("\n")[-1])
    assert (last["mes"], last["swipe_id"]) == ("A glade.", 0)
    assert last["swipes"] == ["A glade.", "The Eldoria glade."]


async def test_markdown_is_a_transcript_for_people(harness: Harness) -> None:
    """Speakers in bold before what they said, in order; no reasoning, no failed reply."""
    await a_whole_conversation(harness)

    answer = await export(harness, "markdown")

    assert answer.file is not None
    assert answer.file.filename == "Parlor - Seraphina - 2026-11-22.md"
    text = answer.file.data.decode()
    assert text.startswith("# Parlor - Seraphina - 2026-11-22\n\n")
    assert "**Ann:** May I rest here?\n\n**Seraphina:** Of course, sit down." in text
    assert "**Seraphina:** Once upon a" in text
    assert text.rstrip().endswith("**Seraphina:** The Eldoria glade.")
    for left_out in ("be vivid", "half an err", "The Eld\n"):
        assert left_out not in text


async def test_a_conversation_without_messages_says_so(harness: Harness) -> None:
    """Nothing said yet, or nothing since /reset: one clear line, and no empty file."""
    nothing = (None, "There is nothing to export yet: this conversation has no messages.")
    assert _answered(await export(harness)) == nothing
    harness.client.scripts.append(reply("Hello."))
    await harness.say("hi")
    assert (await export(harness)).file is not None

    await harness.command("reset")

    assert _answered(await export(harness, "markdown")) == nothing


def _answered(answer: CommandResult) -> tuple[object, str]:
    return answer.file, answer.text


async def test_a_name_with_slashes_or_emoji_gives_a_safe_file_name(harness: Harness) -> None:
    """A character's name cannot climb out of a folder or break a platform's upload."""
    await bring(harness, CharacterCard("../Ser/aph\\ina 🌙", first_mes="Hello."))

    answer = await export(harness)

    assert answer.file is not None
    assert answer.file.filename == "Parlor - Ser aph ina - 2026-11-22.jsonl"
    header, greeting = (json.loads(line) for line in answer.file.data.decode().split("\n"))
    real = "../Ser/aph\\ina 🌙"  # inside the file it is the real name
    assert (header["chat_metadata"]["parlor"]["character_name"], greeting["name"]) == (real, real)
