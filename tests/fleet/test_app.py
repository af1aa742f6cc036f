"""A bot run with REDIS_URL, in the test process against the fake Telegram: its writes draw
on the bot's budget in Redis, under keys named by the bot's id."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import redis

from bot.fleet.bucket import budget_keys
from bot.platforms.telegram.delivery import PTB_TIMEDELTA
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.platforms.telegram.conftest import running

PRIVATE_CHAT = 5001
REPLY_TIMEOUT_SECONDS = 30.0


def test_a_bot_with_redis_url_writes_through_the_shared_budget(
    tmp_path: Path, redis_url: str, migrated_template: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply arrives, with no 429, and each of its writes was counted in Redis."""
    monkeypatch.setenv(PTB_TIMEDELTA, "true")
    bot_id = str(secrets.randbelow(10**9) + 10**9)  # a bot of this test's own
    token = f"{bot_id}:AA{secrets.token_hex(16)}"
    log_key = budget_keys("telegram", bot_id)[0]
    settings = {"DEFAULT_MODEL": "fake-model", "REDIS_URL": redis_url}
    with (
        FakeOpenAI.in_thread() as endpoint,
        FakeTelegram.in_thread(token=token) as telegram,
        redis.Redis.from_url(redis_url) as client,
    ):
        try:
            with running(tmp_path, endpoint, telegram, settings, template=migrated_template) as bot:
                telegram.user_message(PRIVATE_CHAT, "hello")
                telegram.wait_for_sync(
                    lambda: any(
                        m.get("text") == "You said: hello" for m in telegram.messages(PRIVATE_CHAT)
                    ),
                    timeout=REPLY_TIMEOUT_SECONDS,
                )
                counted = client.llen(log_key)
        finally:
            client.delete(*budget_keys("telegram", bot_id))

    assert telegram.rate_limited == []
    assert counted >= 1
    assert "every process shares the bot-wide budgets" in bot.log
