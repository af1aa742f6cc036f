"""Documents sent to the bot on Telegram: a text file is read into the message the model
gets; a binary file, or one too large to read, is refused in one line, nothing sent."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

CHAT = 5001
TIMEOUT = 30.0


def said(telegram: FakeTelegram, count: int) -> str:
    telegram.wait_for_sync(lambda: len(telegram.messages(CHAT)) >= count, timeout=TIMEOUT)
    return str(telegram.messages(CHAT)[count - 1].get("text", ""))


def chat_requests(endpoint: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.json for r in endpoint.requests if r.path.endswith("/chat/completions")]


def test_documents_are_read_as_text_or_refused(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot
) -> None:
    """A .py document (any declared type) reaches the model fenced; the others do not."""
    script = telegram.add_file(b"print('hi')\n", "hello.py", "text/x-python")
    telegram.user_message(CHAT, "what does it print?", document=script)
    said(telegram, 1)
    (request,) = chat_requests(endpoint)
    assert request["messages"][-1]["content"] == (
        "what does it print?\n\nhello.py\n```\nprint('hi')\n```"
    )

    archive = telegram.add_file(
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00", "code.zip", "application/zip"
    )
    telegram.user_message(CHAT, "", document=archive)
    assert said(telegram, 2) == (
        "I can't read code.zip: I take text files and images (PNG, JPEG, WebP, GIF). "
        "Nothing was sent."
    )

    downloads = len(telegram.calls_to("getFile"))
    huge = telegram.add_file(b"a" * 400_001, "huge.log", "text/plain")
    telegram.user_message(CHAT, "read this", document=huge)
    assert (
        said(telegram, 3) == "huge.log is 390 KB; I read text files up to 400 KB. Nothing was sent."
    )
    assert len(telegram.calls_to("getFile")) == downloads  # refused before any download
    assert len(chat_requests(endpoint)) == 1
