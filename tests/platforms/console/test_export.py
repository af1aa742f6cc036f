"""/export through the console end to end: the chat file lands in the exports folder and
parses as SillyTavern chat JSONL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.console_process import bot_env, run_console
from tests.fakes.openai.server import FakeOpenAI

pytestmark = pytest.mark.slow


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.in_thread() as server:
        yield server


def test_export_saves_a_chat_file_sillytavern_reads(tmp_path: Path, fake: FakeOpenAI) -> None:
    bot = run_console(
        tmp_path,
        bot_env(tmp_path),
        f"/connect base_url:{fake.base_url} model:scenario/numbered",
        "Good evening.",
        "/export",
    )
    answer = [e for e in bot.events if e["type"] == "command"][-1]
    assert "2 messages" in answer["text"], answer
    (saved,) = (tmp_path / "exports").glob("Parlor - Assistant - *.jsonl")
    header, mine, reply = (json.loads(line) for line in saved.read_text("utf-8").split("\n"))
    assert header["user_name"] == "unused"
    assert (mine["is_user"], mine["mes"]) == (True, "Good evening.")
    assert (reply["is_user"], reply["swipes"], reply["swipe_id"]) == (False, [reply["mes"]], 0)
