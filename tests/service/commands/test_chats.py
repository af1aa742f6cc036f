"""/chats as people meet it: the archived chats listed, and one reopened to carry on."""

from __future__ import annotations

from bot.core.domain import Permission
from tests.fakes.openai.scripted_client import reply
from tests.service.conftest import CHANNEL, Harness

MEMBER = Permission.EVERYONE
ADMIN = Permission.CHANNEL_ADMIN


async def conversation(harness: Harness, *lines: str) -> None:
    """Each line said and answered "ok: <line>"."""
    for line in lines:
        harness.client.scripts.append(reply(f"ok: {line}"))
        await harness.say(line)


async def archived(harness: Harness, *lines: str) -> None:
    """A conversation of `lines`, then /reset."""
    await conversation(harness, *lines)
    await harness.command("reset")


async def test_no_archived_chats_says_how_to_get_some(harness: Harness) -> None:
    """An empty list is one line naming /reset and import."""
    answer = await harness.command("chats", permission=MEMBER)

    assert answer.text.startswith("No archived chats here yet.")
    assert "/reset" in answer.text


async def test_anyone_may_list_the_archived_chats_newest_first(harness: Harness) -> None:
    """Numbered from the last archived, with dates, counts and the first words said."""
    await archived(harness, "Tell me about dragons.", "More!")
    await archived(harness, "What is the weather?")

    answer = await harness.command("chats", permission=MEMBER)

    lines = answer.text.split("\n")
    assert lines[0] == "Archived chats here, the last archived first (times UTC):"
    assert lines[1].startswith("1. ")
    assert lines[1].endswith("2 messages · “What is the weather?”")
    assert lines[2].startswith("2. ")
    assert lines[2].endswith("4 messages · “Tell me about dragons.”")
    assert lines[-1].startswith("Reopen one with /chats open:N")


async def test_a_long_list_fits_one_message_and_says_how_many_more(harness: Harness) -> None:
    """Thirty chats with long openings: the answer stays within 2,000 characters, each
    opening is cut, and the rest are counted."""
    for number in range(30):
        await archived(harness, f"Chat {number:02d} " + "about a very long winding road " * 5)

    answer = await harness.command("chats", permission=MEMBER)

    assert len(answer.text) <= 2000
    listed = [line for line in answer.text.split("\n") if line[:1].isdigit()]
    assert listed[0].startswith("1. ")
    assert "Chat 29 about a very long" in listed[0]
    assert listed[0].endswith("…”")
    assert f"…and {30 - len(listed)} older." in answer.text


async def test_an_opening_cannot_reorder_or_colour_the_list(harness: Harness) -> None:
    """Bidi overrides and terminal escapes in the first words are not shown."""
    await archived(harness, "\u202eevil\x1b[31m red\nsecond line")

    answer = await harness.command("chats", permission=MEMBER)

    assert "“evil red”" in answer.text
    assert "\u202e" not in answer.text
    assert "second line" not in answer.text


async def test_reopening_needs_the_right_reset_needs(harness: Harness) -> None:
    """A member is told what it needs; the current conversation stays."""
    await archived(harness, "old")
    current = (await harness.store.load_channel(CHANNEL)).chat_id

    answer = await harness.command("chats", permission=MEMBER, open="1")

    assert answer.text == "Reopening a chat needs the right to manage this channel."
    assert (await harness.store.load_channel(CHANNEL)).chat_id == current


async def test_a_reopened_chat_is_what_the_model_reads_next(harness: Harness) -> None:
    """After /chats open:1 the next prompt carries the reopened conversation, not the one
    left, and that one is listed in its place."""
    await archived(harness, "The password is swordfish.")
    await conversation(harness, "Let us talk about cats.")

    answer = await harness.command("chats", permission=ADMIN, open="1")

    assert answer.text.startswith("Reopened chat 1: ")
    assert "2 messages · “The password is swordfish.”" in answer.text
    assert "The conversation before it is archived" in answer.text
    assert not answer.ephemeral
    await conversation(harness, "What was the password?")
    prompt = " ".join(str(m.content) for m in harness.client.requests[-1].messages)
    assert "The password is swordfish." in prompt
    assert "ok: The password is swordfish." in prompt
    assert "cats" not in prompt
    listing = await harness.command("chats", permission=MEMBER)
    assert "“Let us talk about cats.”" in listing.text


async def test_reopening_a_number_not_listed_says_how_many_there_are(harness: Harness) -> None:
    """A wrong number changes nothing and says what exists."""
    await archived(harness, "one")
    await conversation(harness, "current")
    current = (await harness.store.load_channel(CHANNEL)).chat_id

    answer = await harness.command("chats", permission=ADMIN, open="5")

    assert answer.text == (
        "There is no archived chat 5 here; there are 1. /chats lists them. Nothing was changed."
    )
    assert (await harness.store.load_channel(CHANNEL)).chat_id == current


async def test_open_must_be_a_whole_number(harness: Harness) -> None:
    """open:abc is a usage error naming the option."""
    answer = await harness.command("chats", permission=ADMIN, open="abc")

    assert answer.text.startswith("open must be a whole number")
