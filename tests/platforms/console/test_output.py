"""The console's transcript: finished lines only when piped, a character's name on its replies,
and `/attach`, which reads text files into the next message and refuses what it cannot."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest

from bot.app import Stores
from bot.characters.export import card_to_png
from bot.core.clock import SystemClock
from bot.core.domain import Connection
from bot.platforms.console.session import ConsoleIdentity, ConsoleOutput, ConsoleSession
from bot.storage.store import SqlStore
from tests.fakes.openai.scripted_client import ScriptedClient, reply
from tests.prompt.worked_example import ALICE
from tests.service.conftest import build_service


async def run(
    stores: Stores[SqlStore],
    client: ScriptedClient,
    *lines: str,
    jsonl: bool,
    live: bool | None = None,
) -> str:
    service = build_service(
        stores, client, SystemClock(), default=Connection("http://op.example/v1", model="m")
    )
    out = io.StringIO()
    output = ConsoleOutput(out, jsonl=jsonl, live=live)
    session = ConsoleSession(service, output, ConsoleIdentity("c", "ann"))
    async with asyncio.timeout(20):
        await session.run(io.StringIO("".join(f"{line}\n" for line in lines)))
    return out.getvalue()


def events(text: str) -> list[dict[str, str]]:
    return [json.loads(line) for line in text.splitlines()]


def with_alice(tmp_path: Path) -> tuple[str, str]:
    card = tmp_path / "alice.png"
    card.write_bytes(card_to_png(ALICE, None))
    return f"/character import file:{card}", "/character use name:Alice"


async def test_piped_plain_output_has_only_finished_lines(stores: Stores[SqlStore]) -> None:
    """Into a pipe or file a streamed reply is one finished line: no carriage return or escape."""
    client = ScriptedClient([reply("Hello", " there,", " friend."), reply("Again.")])
    out = await run(stores, client, "hi", "more", jsonl=False)
    assert "\r" not in out
    assert "\033" not in out
    assert out.count("bot> ") == 2
    assert "\nbot> Hello there, friend.\n" in out
    assert "\nbot> Again.\n" in out
    assert "…" not in out  # the placeholder was progress, not a line


async def test_a_terminal_still_sees_the_reply_grow(stores: Stores[SqlStore]) -> None:
    """On a terminal the placeholder is redrawn in place as the reply streams."""
    out = await run(
        stores, ScriptedClient([reply("Hello", " there.")]), "hi", jsonl=False, live=True
    )
    assert "\nbot> …\r\033[Kbot> Hello" in out
    assert out.rstrip().endswith("there.\n\nyou>")


async def test_a_characters_reply_carries_its_name(
    stores: Stores[SqlStore], tmp_path: Path
) -> None:
    """Plain lines lead with the character's name, JSON send/edit events carry `speaker`."""
    client = ScriptedClient([reply("Hi", " Ann."), reply("Bye", " Ann.")])
    plain = await run(stores, client, *with_alice(tmp_path), "hello", jsonl=False)
    assert "\nAlice> Hi Ann.\n" in plain
    assert "bot> " not in plain
    lines = await run(stores, client, "bye", jsonl=True)
    writes = [e for e in events(lines) if e["type"] in ("send", "edit")]
    assert writes
    assert {e.get("speaker") for e in writes} == {"Alice"}


async def test_without_a_character_events_have_no_speaker(stores: Stores[SqlStore]) -> None:
    """The bot speaking as itself: `speaker` is absent, as on command events."""
    out = await run(stores, ScriptedClient([reply("ok")]), "hi", jsonl=True)
    writes = [e for e in events(out) if e["type"] in ("send", "edit")]
    assert writes
    assert all("speaker" not in e for e in writes)


async def test_help_lists_attach(stores: Stores[SqlStore]) -> None:
    """/help names the console's own /attach beside the service's commands."""
    (answer,) = events(await run(stores, ScriptedClient(), "/help", jsonl=True))
    assert "\n/attach <path> — send a file with your next message" in answer["text"]


async def test_an_attached_text_file_goes_into_the_next_message(
    stores: Stores[SqlStore], tmp_path: Path
) -> None:
    """`/attach notes.md` then a message: the model reads the words, then the file, fenced."""
    notes = tmp_path / "notes.md"
    notes.write_text("# Plan\n- ship it\n", encoding="utf-8")
    client = ScriptedClient([reply("Done.")])
    out = events(await run(stores, client, f"/attach {notes}", "summarise", jsonl=True))
    assert out[0]["text"] == "Attached notes.md; it goes with your next message."
    sent = client.requests[-1].messages[-1].content
    assert sent == "summarise\n\nnotes.md\n```\n# Plan\n- ship it\n```"


@pytest.mark.parametrize(
    ("name", "data", "said"),
    [
        ("song.mp3", b"ID3\x04\x00\x00\x00\x00\x00\x00", "I can't read song.mp3: I take text"),
        ("tool.bin", b"\x7fELF\x02\x01\x01\x00\xff", "I can't read tool.bin: I take text"),
        ("big.log", b"x" * 400_001, "big.log is 390 KB; I read text files up to 400 KB."),
    ],
)
async def test_a_file_the_model_cannot_take_is_refused_when_attached(
    stores: Stores[SqlStore], tmp_path: Path, name: str, data: bytes, said: str
) -> None:
    """One line at `/attach`; the next message goes without it."""
    path = tmp_path / name
    path.write_bytes(data)
    client = ScriptedClient([reply("ok")])
    out = events(await run(stores, client, f"/attach {path}", "hello", jsonl=True))
    assert out[0]["type"] == "command"
    assert out[0]["text"].startswith(said)
    assert out[0]["text"].endswith("Nothing was sent.")
    assert client.requests[-1].messages[-1].content == "hello"
