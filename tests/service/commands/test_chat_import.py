"""A SillyTavern chat file sent with /chats becomes this channel's conversation; /export gives
the same file back; a broken file changes nothing; a chat too large for one upload is cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.domain import Actor, Attachment, CommandCall, CommandResult, Permission
from tests.fakes.openai.scripted_client import reply
from tests.service.commands.test_export import SERAPHINA, a_whole_conversation, export
from tests.service.conftest import CHANNEL, Harness
from tests.service.turns.test_prompt_assembly import bring

SAMPLES = Path(__file__).parents[1] / "chat_samples"
ADMIN = Permission.CHANNEL_ADMIN


async def send(
    harness: Harness, data: bytes, *, name: str = "chat.jsonl", permission: Permission = ADMIN
) -> CommandResult:
    """/chats with a file attached, as every platform hands one over."""
    file = Attachment(name, "application/octet-stream", data)
    call = CommandCall("chats", {}, CHANNEL, Actor("ann", "Ann", permission), attachments=(file,))
    return await harness.service.run_command(call)


async def shown(harness: Harness) -> list[tuple[str | None, str]]:
    """The current chat as the history reads it: (name, text) in order."""
    chat = (await harness.store.load_channel(CHANNEL)).chat_id
    return [(m.author_name, m.content) for m in await harness.store.history(chat, limit=100)]


def messages_of(exported: CommandResult) -> list[dict[str, object]]:
    """The message lines of an exported chat file, without the parts that say when it was
    exported (the header's integrity and date), which differ from one export to the next."""
    assert exported.file is not None
    return [json.loads(line) for line in exported.file.data.decode().split("\n")[1:]]


async def test_an_imported_chat_is_what_the_model_reads_next(harness: Harness) -> None:
    """A 1.15 file: the answer counts the messages and names the file's character; the
    next prompt carries its conversation, with the swipe that was shown."""
    harness.client.scripts.append(reply("Hello."))
    await harness.say("Before the import.")

    answer = await send(harness, (SAMPLES / "sillytavern_1_15.jsonl").read_bytes())

    assert answer.text.split("\n") == [
        "Imported 4 messages; we carry on from the last one.",
        "The conversation before it is archived: /chats lists it.",
        "The file's character is Seraphina, and this channel's is Assistant: "
        "/character use changes who speaks.",
    ]
    harness.client.scripts.append(reply("Warm now?"))
    await harness.say("I am warm now.")
    prompt = [str(m.content) for m in harness.client.requests[-1].messages]
    assert any("Sit by the fire." in text for text in prompt)
    assert not any("You look cold." in text for text in prompt)
    assert not any("Before the import." in text for text in prompt)


async def test_an_old_file_leaves_out_hidden_lines_and_says_so(harness: Harness) -> None:
    """A 1.12 file with a hidden narrator line: it is not imported, and the answer says so."""
    await bring(harness, SERAPHINA)

    answer = await send(harness, (SAMPLES / "sillytavern_1_12.jsonl").read_bytes())

    assert "1 hidden message(s) were left out" in answer.text
    assert "character is" not in answer.text  # Seraphina is this channel's too
    assert await shown(harness) == [
        ("Seraphina", "Evening, traveller."),
        ("Alex", "May I rest here?"),
        ("Seraphina", "Of course."),
        ("Alex", "Thanks!"),
        ("Seraphina", "Rest well."),
    ]


async def test_a_member_may_not_import(harness: Harness) -> None:
    """Importing replaces the conversation for everyone: it needs the right /reset needs."""
    harness.client.scripts.append(reply("Hello."))
    await harness.say("mine")

    answer = await send(
        harness,
        (SAMPLES / "group_without_header.jsonl").read_bytes(),
        permission=Permission.EVERYONE,
    )

    assert answer.text == "Importing a chat needs the right to manage this channel."
    assert await shown(harness) == [("Ann", "mine"), (None, "Hello.")]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is not UTF-8 text"),
        (b"Ann: hello", "is not JSON"),
        (b'{"user_name":"unused","chat_metadata":{}}', "holds no messages"),
        ('{"user_name":"Alex"}'.encode("utf-16"), "is not UTF-8 text"),
    ],
)
async def test_a_broken_file_changes_nothing(harness: Harness, data: bytes, said: str) -> None:
    """The answer says what is wrong; the conversation and the archive stay as they were."""
    harness.client.scripts.append(reply("Hello."))
    await harness.say("mine")
    before = (await harness.store.load_channel(CHANNEL)).chat_id

    answer = await send(harness, data)

    assert said in answer.text
    assert answer.text.endswith("Nothing was changed.")
    assert (await harness.store.load_channel(CHANNEL)).chat_id == before
    assert await shown(harness) == [("Ann", "mine"), (None, "Hello.")]
    assert (await harness.store.archived_chats(CHANNEL, limit=5)).total == 0


async def test_export_then_import_then_export_gives_the_same_chat(harness: Harness) -> None:
    """Messages, names, dates, swipes (with their reasoning) and order survive the trip."""
    await a_whole_conversation(harness)
    first = await export(harness)
    assert first.file is not None

    imported = await send(harness, first.file.data, name=first.file.filename)

    assert imported.text.startswith("Imported 8 messages")
    again = await export(harness)
    assert messages_of(again) == messages_of(first)
    regenerated = messages_of(again)[-1]
    assert regenerated["swipes"] == ["A glade.", "The Eldoria glade."]
    infos = regenerated["swipe_info"]
    assert isinstance(infos, list)
    assert [info["extra"].get("reasoning") for info in infos] == [None, "be vivid"]


async def test_a_group_chat_keeps_every_speaker_through_export(harness: Harness) -> None:
    """Replies keep the names they had in the file, not the channel's character."""
    await send(harness, (SAMPLES / "group_without_header.jsonl").read_bytes())

    lines = messages_of(await export(harness))

    assert [(m["name"], m["is_user"]) for m in lines] == [
        ("Alex", True),
        ("Seraphina", False),
        ("Aurelius", False),
    ]


async def test_a_chat_too_large_for_one_upload_exports_its_newest_part(harness: Harness) -> None:
    """Twelve MB of chat: the file holds the newest messages within 10 MB, and says so."""
    words = "The road winds on. " * 3_000  # about 57 KB a message
    lines = [
        json.dumps({"name": "Ann", "is_user": True, "mes": f"{n:03d} {words}"}) for n in range(220)
    ]
    await send(harness, "\n".join(lines).encode())

    answer = await export(harness)

    assert answer.file is not None
    assert len(answer.file.data) <= 10 * 1024 * 1024
    kept = messages_of(answer)
    assert 150 < len(kept) < 220
    assert str(kept[-1]["mes"]).startswith("219 ")
    assert str(kept[0]["mes"]).startswith(f"{220 - len(kept):03d} ")
    assert answer.text == (
        "This conversation with Assistant has 220 messages: too many for one file of 10 MB, "
        f"the most every platform takes. Here are the newest {len(kept)} messages, as a "
        "SillyTavern chat file (Import chat there)."
    )
