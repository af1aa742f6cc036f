"""Quotas on Telegram end to end: the bot in the test process, the real python-telegram-bot
against our fake Bot API, and the fake endpoint, which reports `usage` for every reply
(7 prompt tokens, one completion token per word: "You said: message number 0" costs 12)."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.bot_thread import RunningBot
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.platforms.telegram.test_telegram_usage_e2e import replied, said, texts

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("away_from_midnight")]

PRIVATE_CHAT = 5001
TIMEOUT = 60.0
TOKENS_PER_DAY = 30
"""Three replies of 12 tokens pass (0, 12, 24 spent before each); the fourth is refused."""
REFUSAL = re.compile(
    rf"You've reached your limit of {TOKENS_PER_DAY} tokens per day; "
    r"it resets at 00:00 UTC, in (?:(\d+) h)? ?(?:(\d+) min)?\.$"
)


@pytest.fixture
def bot_settings() -> dict[str, str]:
    return {"DEFAULT_MODEL": "fake-model", "QUOTA_USER_TOKENS_PER_DAY": str(TOKENS_PER_DAY)}


def stored_texts(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "data" / "parlor.db") as database:
        return [row[0] for row in database.execute("SELECT content FROM messages")]


def test_a_person_who_spends_the_days_tokens_is_told_when_they_reset(
    telegram: FakeTelegram, endpoint: FakeOpenAI, bot: RunningBot, tmp_path: Path
) -> None:
    """The fourth message gets one line with the reset time; the endpoint hears nothing of
    it, the history keeps nothing of it, and /limits says none is left."""
    for turn in range(3):
        assert replied(telegram, tmp_path, PRIVATE_CHAT, f"message number {turn}") == (
            f"You said: message number {turn}"
        )
    requests = len(endpoint.requests)

    line = said(telegram, PRIVATE_CHAT, "one more, please")
    limits = said(telegram, PRIVATE_CHAT, "/limits")

    match = REFUSAL.match(line)
    assert match, line
    hours, minutes = (int(part or 0) for part in match.groups())
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    assert abs(timedelta(hours=hours, minutes=minutes) - (midnight - now)) < timedelta(minutes=2)
    assert len(endpoint.requests) == requests
    assert not any("one more" in text for text in stored_texts(tmp_path))
    assert f"Your tokens today: 36 of {TOKENS_PER_DAY} used, 0 left" in limits
    assert texts(telegram, PRIVATE_CHAT)[-1] == limits
