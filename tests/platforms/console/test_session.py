"""The console session in-process: line order, /stop at once, and its per-line safety net."""

from __future__ import annotations

import asyncio
import io
import json

from bot.app import Stores
from bot.core.clock import SystemClock
from bot.core.domain import Connection, Delta
from bot.platforms.console.session import ConsoleIdentity, ConsoleOutput, ConsoleSession
from bot.storage.store import SqlStore
from tests.fakes.openai.scripted_client import Script, ScriptedClient, reply
from tests.service.conftest import build_service


async def run_lines(
    stores: Stores[SqlStore], client: ScriptedClient, text: str
) -> list[dict[str, str]]:
    service = build_service(
        stores, client, SystemClock(), default=Connection("http://op.example/v1", model="m")
    )
    out = io.StringIO()
    session = ConsoleSession(service, ConsoleOutput(out, jsonl=True), ConsoleIdentity("c", "ann"))
    async with asyncio.timeout(20):  # a session that never ends fails instead of hanging
        await session.run(io.StringIO(text))
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_lines_are_answered_in_order(stores: Stores[SqlStore]) -> None:
    """Messages and commands are handled in the order they were typed."""
    client = ScriptedClient([reply("first"), reply("second")])
    events = await run_lines(stores, client, "one\n/model name:x\ntwo\n")
    summary = [(e["type"], e.get("text")) for e in events if e["type"] in ("done", "command")]
    assert summary == [
        ("done", "first"),
        ("command", "This channel now talks to x."),
        ("done", "second"),
    ]
    assert client.requests[1].model == "x"


async def test_a_bug_in_one_line_does_not_end_the_session(stores: Stores[SqlStore]) -> None:
    """An unexpected failure is reported as an error line and the next line is still answered."""
    client = ScriptedClient([Script(deltas=[Delta(content="par")], error=RuntimeError("bug"))])
    events = await run_lines(stores, client, "boom\n/help\n")
    done = [e for e in events if e["type"] == "done"]
    assert done == [
        {
            "type": "done",
            "status": "error",
            "text": "Something went wrong on our side; the details are in the bot's log.",
        }
    ]
    assert events[-1]["type"] == "command"
    assert events[-1]["name"] == "help"


async def test_key_refused_without_encryption_keys_changes_nothing(
    stores: Stores[SqlStore],
) -> None:
    """With no ENCRYPTION_KEYS a typed key is refused and the channel keeps its settings."""
    events = await run_lines(
        stores, ScriptedClient(), "/connect base_url:http://x.example/v1 api_key:sk-abcdefghijkl\n"
    )
    assert "ENCRYPTION_KEYS" in events[0]["text"]
    assert "sk-abcdefghijkl" not in events[0]["text"]


async def test_stop_read_before_the_turn_starts_stops_that_turn(stores: Stores[SqlStore]) -> None:
    """A script's `/stop` right after its message stops that message's reply."""
    endless = Script(deltas=[Delta(content="Once")], hold_after=1)
    events = await run_lines(stores, ScriptedClient([endless]), "tell me a story\n/stop\n")
    stop = next(e for e in events if e["type"] == "command")
    assert stop["text"] == "Stopped."
    done = next(e for e in events if e["type"] == "done")
    assert done["status"] == "stopped"


async def test_message_refs_never_repeat_in_a_session(stores: Stores[SqlStore]) -> None:
    """Every message the bot sends in a session has its own ref."""
    client = ScriptedClient([reply("one"), reply("two")])
    events = await run_lines(stores, client, "a\nb\n")
    refs = [e["ref"] for e in events if e["type"] == "send"]
    assert len(refs) == 2
    assert len(set(refs)) == 2
