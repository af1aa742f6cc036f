"""/chats through the console end to end: a chat exported, put away by /reset, imported
from its file with `file:` and exported again, the same."""

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


def test_an_exported_chat_imported_from_its_file_exports_the_same(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    """The second file holds the first one's messages; the list shows the chat it replaced
    (both runs share the database, so that chat holds both runs' messages)."""
    first = run_console(
        tmp_path,
        bot_env(tmp_path),
        f"/connect base_url:{fake.base_url} model:scenario/numbered",
        "Good evening.",
        "/export",
    )
    assert "2 messages" in first.command_text("export")
    (saved,) = (tmp_path / "exports").glob("*.jsonl")
    kept = tmp_path / "kept.jsonl"
    saved.rename(kept)

    second = run_console(
        tmp_path,
        bot_env(tmp_path),
        "Something else.",
        f"/chats file:{kept}",
        "/chats",
        "/export",
    )

    answers = [e["text"] for e in second.events if e["type"] == "command"]
    assert answers[0].startswith("Imported 2 messages")
    assert "4 messages · “Good evening.”" in answers[1]  # the same database: one chat so far
    (again,) = (tmp_path / "exports").glob("*.jsonl")

    def messages(path: Path) -> list[object]:
        return [json.loads(line) for line in path.read_text("utf-8").split("\n")[1:]]

    assert messages(again) == messages(kept)
