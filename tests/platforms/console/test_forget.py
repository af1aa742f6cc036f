"""/forget in the console: no buttons there, so the answer says which line to type."""

from __future__ import annotations

import asyncio
import io
import json
import re

from bot.app import Stores
from bot.core.clock import SystemClock
from bot.core.domain import ChannelKey, Connection
from bot.platforms.console.session import ConsoleIdentity, ConsoleOutput, ConsoleSession
from bot.service.commands.forget import MARKER
from bot.service.conversations import ConversationService
from bot.storage.store import SqlStore
from tests.fakes.openai.scripted_client import ScriptedClient, reply
from tests.service.conftest import build_service


async def typed(service: ConversationService, text: str) -> list[dict[str, str]]:
    out = io.StringIO()
    session = ConsoleSession(service, ConsoleOutput(out, jsonl=True), ConsoleIdentity("c", "ann"))
    async with asyncio.timeout(20):
        await session.run(io.StringIO(text))
    return [json.loads(line) for line in out.getvalue().splitlines()]


async def test_forget_prints_the_line_that_confirms_it(stores: Stores[SqlStore]) -> None:
    """The answer ends with the /forget confirm:… line; typing it erases the message."""
    client = ScriptedClient([reply("Noted.")])
    service = build_service(
        stores, client, SystemClock(), default=Connection("http://op.example/v1", model="m")
    )
    asked = await typed(service, "my console secret\n/forget\n")
    prompt = asked[-1]["text"]
    found = re.search(r"To confirm, type: (/forget confirm:\S+)$", prompt)
    assert found, prompt

    done = await typed(service, found.group(1) + "\n")

    assert done[0]["text"] == "Erased 1 message and 1 usage row."
    chat = (await stores.store.load_channel(ChannelKey("console", "c"))).chat_id
    history = await stores.store.history(chat, limit=10)
    assert [m.content for m in history] == [MARKER, "Noted."]
