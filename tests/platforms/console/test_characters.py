"""Characters through the console end to end: a PNG card imported from a file, its greeting,
a streamed chat, /regenerate and /swipe, and the prompt the endpoint received.

The card is the worked example (tests/prompt/worked_example.py), so the request the fake
endpoint records must be the assembled list written there, in that order.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.characters.export import card_to_png
from bot.characters.parse import read_card
from tests.fakes.console_process import bot_env, run_console
from tests.fakes.openai.server import FakeOpenAI
from tests.prompt.worked_example import ALICE as WORKED_ALICE
from tests.prompt.worked_example import MERGED_SYSTEM, SPEC_ASSEMBLED

pytestmark = pytest.mark.slow

ALICE = dataclasses.replace(  # `data` is rebuilt: it is what export writes
    WORKED_ALICE, data={}, alternate_greetings=("*yawns* Oh, it's you, {{user}}.",)
)


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.in_thread() as server:
        yield server


def chat_requests(fake: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.json for r in fake.requests if r.path == "/v1/chat/completions"]


def test_png_card_greets_chats_regenerates_and_swipes(tmp_path: Path, fake: FakeOpenAI) -> None:
    card_file = tmp_path / "alice.png"
    card_file.write_bytes(card_to_png(ALICE, None))
    bot = run_console(
        tmp_path,
        bot_env(tmp_path),
        f"/connect base_url:{fake.base_url} model:scenario/numbered",
        "/persona name:Bob",
        f"/character import file:{card_file}",
        "/character use name:Alice",
        "Hey Alice",
        "/regenerate",
        "/swipe direction:previous",
        "/swipe",
        "/postprocess mode:strict",
        "How are you?",
    )
    assert "Imported Alice" in bot.command_text("character")
    greeting = [e for e in bot.events if e["type"] == "command" and e.get("speaker") == "Alice"]
    assert greeting[0]["text"].startswith("*stretches* Hello, Bob.")
    assert "(1/2, /swipe for another)" in greeting[0]["text"]

    done = [e for e in bot.events if e["type"] == "done"]
    assert [d["status"] for d in done] == ["complete", "complete", "complete"]
    first, regenerated, last = (d["text"] for d in done)
    assert first != regenerated
    kinds = [e["type"] for e in bot.events]
    assert kinds.count("edit") >= 3  # every reply streamed in by edits

    requests = chat_requests(fake)
    assert len(requests) == 3
    assert requests[0]["messages"] == SPEC_ASSEMBLED
    assert requests[1]["messages"] == SPEC_ASSEMBLED  # the same prompt, written again

    swipes = [e["text"] for e in bot.events if e["type"] == "command" and e["name"] == "swipe"]
    assert swipes[0] == f"{first}\n*(1/2)*"
    assert swipes[1] == f"{regenerated}\n*(2/2)*"

    assert requests[2]["messages"] == [
        {"role": "system", "content": MERGED_SYSTEM},
        {"role": "user", "content": "[Start a new chat]"},
        {"role": "assistant", "content": "*stretches* Hello, Bob."},
        {"role": "user", "content": "Hey Alice"},
        {"role": "assistant", "content": regenerated},  # the chosen swipe is the history
        {"role": "user", "content": "How are you?\n\nStay in character as Alice."},
    ]
    assert last


def test_greeting_swipe_export_and_a_broken_card(tmp_path: Path, fake: FakeOpenAI) -> None:
    """An alternate greeting opens a chat; the export reads back as the same card; a broken
    card is refused with a reason and changes nothing."""
    card_file = tmp_path / "alice.png"
    card_file.write_bytes(card_to_png(ALICE, None))
    broken = tmp_path / "broken.json"
    broken.write_text('{"spec": "chara_card_v2", "data": {"name": "Eve", ', encoding="utf-8")
    bot = run_console(
        tmp_path,
        bot_env(tmp_path),
        f"/connect base_url:{fake.base_url} model:scenario/numbered",
        f"/character import file:{card_file}",
        f"/character import file:{broken}",
        "/character use name:alice",
        "/greeting index:1",
        "/character export name:Alice format:png",
        "/character list",
    )
    answers = [e for e in bot.events if e["type"] == "command"]
    refused = answers[2]["text"]
    assert "JSON" in refused
    assert "Eve" not in answers[-1]["text"]
    assert "Alice (here)" in answers[-1]["text"]
    second_greeting = next(a for a in answers if a["name"] == "greeting")
    assert second_greeting["text"].startswith("*yawns* Oh, it's you, ")
    assert "(2/2" in second_greeting["text"]
    exported = tmp_path / "exports" / "Alice.png"
    assert read_card(exported.read_bytes()).card.description == ALICE.description
