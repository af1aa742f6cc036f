"""Text files that come with a message are read into it, fenced under their name; other files
that are not images are refused in one line, and nothing reaches the endpoint."""

from __future__ import annotations

import pytest

from bot.core.domain import Attachment, Incoming, MessageStatus, TurnOutcome
from bot.core.files import MAX_TEXT_CHARS, refusal, refusal_by_size
from tests.fakes.openai.scripted_client import reply
from tests.fakes.recording_replier import RecordingReplier
from tests.service.conftest import CHANNEL, Harness

PNG = Attachment("cat.png", "image/png", b"\x89PNG\r\n\x1a\nnot really a picture")


async def say_with(
    harness: Harness, text: str, *files: Attachment, replier: RecordingReplier | None = None
) -> TurnOutcome:
    incoming = Incoming(CHANNEL, "ann", "Ann", text, attachments=files)
    return await harness.service.handle(incoming, replier or harness.replier())


async def stored_user_texts(harness: Harness) -> list[str]:
    state = await harness.store.load_channel(CHANNEL)
    history = await harness.store.history(state.chat_id, limit=50)
    return [m.content for m in history if m.role.value == "user"]


@pytest.mark.parametrize(
    ("name", "kind", "data", "content"),
    [
        ("notes.txt", "text/plain", b"buy milk\n", "buy milk"),
        ("README.md", "text/markdown; charset=utf-8", "# Titre é\n".encode(), "# Titre é"),
        ("data.json", "application/json", b'{"a": 1}', '{"a": 1}'),
        ("main.py", "application/octet-stream", b"print('hi')\r\n", "print('hi')\r"),
        ("Makefile", "", b"\xef\xbb\xbfall:\n\techo hi\n", "all:\n\techo hi"),
    ],
)
async def test_a_text_file_is_read_into_the_message(
    harness: Harness, name: str, kind: str, data: bytes, content: str
) -> None:
    """Whatever its declared type, UTF-8 text goes after the words, named and fenced."""
    harness.client.scripts.append(reply("Read it."))
    outcome = await say_with(harness, "Look at this", Attachment(name, kind, data))
    assert outcome.status is MessageStatus.COMPLETE
    sent = harness.client.requests[-1].messages[-1].content
    assert sent == f"Look at this\n\n{name}\n```\n{content}\n```"


async def test_the_file_stays_with_its_message_in_later_turns(harness: Harness) -> None:
    """The file is part of what the user said: stored, and in the next prompt's history."""
    harness.client.scripts += [reply("ok"), reply("it says hi")]
    await say_with(harness, "", Attachment("a.txt", "text/plain", b"hi"))
    await harness.say("what did the file say?")
    first = harness.client.requests[-1].messages[0].content
    assert first == "a.txt\n```\nhi\n```"
    assert (await stored_user_texts(harness))[0] == first


async def test_backticks_in_a_file_cannot_close_its_fence(harness: Harness) -> None:
    """A file holding a code fence is wrapped in a longer one."""
    harness.client.scripts.append(reply("ok"))
    text = b"Example:\n```py\nx = 1\n```\n"
    await say_with(harness, "", Attachment("doc.md", "text/markdown", text))
    sent = harness.client.requests[-1].messages[-1].content
    assert sent == "doc.md\n````\nExample:\n```py\nx = 1\n```\n````"


async def test_text_files_and_images_go_together(harness: Harness) -> None:
    """An image still goes to the vision model beside a text file read into the words."""
    harness.client.scripts.append(reply("ok"))
    await say_with(harness, "both", PNG, Attachment("a.txt", "text/plain", b"hi"))
    message = harness.client.requests[-1].messages[-1]
    assert message.content == "both\n\na.txt\n```\nhi\n```"
    assert len(message.media) == 1


@pytest.mark.parametrize(
    ("name", "kind", "data"),
    [
        ("report.pdf", "application/pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"),
        ("notes.txt", "text/plain", "utf-16 text".encode("utf-16")),
        ("archive.zip", "application/zip", b"PK\x03\x04\x14\x00\x00\x00"),
        ("paint.bmp", "image/bmp", b"BM\x36\x00\x00\x00\x00\x00"),
        ("latin1.txt", "text/plain", "caf\xe9 cr\xe8me".encode("latin-1")),
    ],
)
async def test_a_file_that_is_not_text_is_refused_and_nothing_sent(
    harness: Harness, name: str, kind: str, data: bytes
) -> None:
    """One line names the file and what is taken; no request, nothing stored."""
    replier = harness.replier()
    outcome = await say_with(harness, "read this", Attachment(name, kind, data), replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert replier.texts == [
        f"I can't read {name}: I take text files and images (PNG, JPEG, WebP, GIF). "
        "Nothing was sent."
    ]
    assert harness.client.requests == []
    assert await stored_user_texts(harness) == []


async def test_text_over_the_character_cap_is_refused(harness: Harness) -> None:
    """Files together over the cap are refused, even when each alone is under it."""
    half = b"a" * (MAX_TEXT_CHARS // 2 + 1)
    files = (Attachment("a.txt", "text/plain", half), Attachment("b.txt", "text/plain", half))
    replier = harness.replier()
    outcome = await say_with(harness, "", *files, replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert replier.texts[-1].startswith("Those files have 100,002 characters; I read up to 100,000")
    assert harness.client.requests == []


async def test_a_text_file_too_big_for_the_context_gets_the_budget_refusal(
    harness: Harness,
) -> None:
    """Under the cap but over the context: the usual budget refusal, not a crash."""
    replier = harness.replier()
    big = Attachment("log.txt", "text/plain", b"word " * 20_000)
    outcome = await say_with(harness, "summarise", big, replier=replier)
    assert outcome.status is MessageStatus.ERROR
    assert replier.texts[-1].startswith("The message needs ")
    assert harness.client.requests == []


def test_size_is_judged_before_download() -> None:
    """A large non-image is refused by its announced size; images keep their own cap."""
    assert refusal_by_size("big.log", "text/plain", 500_000) == (
        "big.log is 488 KB; I read text files up to 400 KB. Nothing was sent."
    )
    assert refusal_by_size("big.log", None, 1000) is None
    assert refusal_by_size("photo.png", "image/png", 4_000_000) is None


def test_a_shown_name_loses_control_and_bidi_characters() -> None:
    """A file's name cannot move the terminal's cursor or reverse the line it is shown in."""
    bad = Attachment("\x1b[31mevil\u202egnp.exe\x07", "application/x-msdownload", b"MZ\x90\x00")
    assert refusal(bad) == (
        "I can't read evilgnp.exe: I take text files and images (PNG, JPEG, WebP, GIF). "
        "Nothing was sent."
    )
