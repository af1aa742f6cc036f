"""/forget through the service: nothing goes before the confirmation, which works once, for
the person who asked, for a few minutes; then what they wrote reads as the marker."""

from __future__ import annotations

from bot.app import Stores
from bot.core.domain import CommandResult, Permission, Persona
from bot.service.commands.forget import EXPIRED, MARKER, SOMEONE_ELSE, UNKNOWN, USED
from bot.service.confirmations import CONFIRM_SECONDS
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock, FakeWallClock
from tests.fakes.openai.scripted_client import ScriptedClient, reply
from tests.service.conftest import (
    CHANNEL,
    OPERATOR,
    WALL_CLOCK,
    Harness,
    build_service,
)


def code_of(result: CommandResult) -> str:
    assert result.confirmation is not None, result.text
    assert result.confirmation.command == "forget"
    return result.confirmation.code


async def history_texts(harness: Harness) -> list[str]:
    chat = (await harness.store.load_channel(CHANNEL)).chat_id
    return [m.content for m in await harness.store.history(chat, limit=50)]


async def test_forget_me_asks_first_and_erases_once_confirmed(harness: Harness) -> None:
    """The prompt counts what will go and erases nothing; the confirmation erases it and
    says what went; the conversation keeps the marker where the message was."""
    harness.client.scripts.extend([reply("Hello Ann."), reply("Hello Bob.")])
    await harness.say("my secret plan", author="ann")
    await harness.say("hi", author="bob")
    await harness.stores.personas.set_persona("test", "ann", Persona("Annie", "tall"))

    asked = await harness.command("forget", user="ann", permission=Permission.EVERYONE)

    assert "1 message" in asked.text
    assert "your persona and 1 usage row." in asked.text
    assert "can't be undone" in asked.text
    assert "my secret plan" in await history_texts(harness)

    done = await harness.command(
        "forget", user="ann", permission=Permission.EVERYONE, confirm=code_of(asked)
    )

    assert done.text == "Erased 1 message, your persona and 1 usage row."
    assert done.closes_confirmation
    assert await history_texts(harness) == [MARKER, "Hello Ann.", "hi", "Hello Bob."]
    assert await harness.stores.personas.personas("test", ["ann"]) == {}


async def test_the_next_prompt_reads_the_marker(harness: Harness) -> None:
    """The model reads the erased message as the marker, with no name of its author."""
    harness.client.scripts.extend([reply("Noted."), reply("Sure.")])
    await harness.say("my secret plan", author="ann")
    asked = await harness.command("forget", user="ann")
    await harness.command("forget", user="ann", confirm=code_of(asked))

    await harness.say("what did ann say?", author="bob")

    sent = "\n".join(m.content for m in harness.client.requests[-1].messages)
    assert MARKER in sent
    assert "my secret plan" not in sent
    assert "Ann" not in sent.replace("ann say", "")


async def test_someone_else_cannot_confirm_and_the_code_still_works(harness: Harness) -> None:
    """Bob's press is refused without spending the code; Ann's then works; a second press
    says it was used."""
    asked = await harness.command("forget", user="ann")
    code = code_of(asked)

    refused = await harness.command("forget", user="bob", confirm=code)
    done = await harness.command("forget", user="ann", confirm=code)
    again = await harness.command("forget", user="ann", confirm=code)

    assert refused.text == SOMEONE_ELSE
    assert not refused.closes_confirmation
    assert done.text.startswith("Erased")
    assert again.text == USED


async def test_an_expired_confirmation_erases_nothing(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """Past the confirmation's minutes (by the wall clock), pressing says so and the
    messages stay."""
    wall = FakeWallClock(WALL_CLOCK)
    clock = FakeClock(auto=True)
    service = build_service(stores, client, clock, default=OPERATOR, wall_clock=wall)
    harness = Harness(service, stores, client, clock)
    harness.client.scripts.append(reply("Hello."))
    await harness.say("keep me", author="ann")
    asked = await harness.command("forget", user="ann")

    wall.advance(CONFIRM_SECONDS)
    late = await harness.command("forget", user="ann", confirm=code_of(asked))

    assert late.text == EXPIRED
    assert late.closes_confirmation
    assert "keep me" in await history_texts(harness)


async def test_an_unknown_code_says_to_ask_again(harness: Harness) -> None:
    result = await harness.command("forget", user="ann", confirm="not-a-code")
    assert result.text == UNKNOWN


async def test_forget_channel_needs_a_channel_admin(harness: Harness) -> None:
    """A member is refused outright; an admin is asked, and the confirmation empties the
    channel's history, archived chats included."""
    harness.client.scripts.extend([reply("One."), reply("Two.")])
    await harness.say("first chat")
    await harness.store.reset_chat(CHANNEL)
    await harness.say("second chat")

    member = await harness.command("forget", target="channel", permission=Permission.EVERYONE)
    asked = await harness.command("forget", target="channel", permission=Permission.CHANNEL_ADMIN)

    assert "needs the right to manage this channel" in member.text
    assert member.confirmation is None
    assert "4 messages in 2 chats" in asked.text
    done = await harness.command(
        "forget", permission=Permission.CHANNEL_ADMIN, confirm=code_of(asked)
    )
    assert done.text == "Erased this channel's history: 4 messages in 1 chat."
    assert await history_texts(harness) == []


async def test_adapters_forget_what_they_hold(harness: Harness) -> None:
    """A registered hook hears whom to forget, and what it dropped is counted."""
    heard: list[tuple[str, str]] = []

    async def forget(platform: str, user_id: str) -> int:
        heard.append((platform, user_id))
        return 1

    harness.service.when_forgetting(forget)
    asked = await harness.command("forget", user="ann")
    done = await harness.command("forget", user="ann", confirm=code_of(asked))

    assert heard == [("test", "ann")]
    assert done.text == "Erased your pending key link."
