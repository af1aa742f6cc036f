"""Starting on Discord: a token Discord refuses ends the process with one clear line, and
a privileged intent the portal has not enabled is done without, and Telegram runs
alongside in the same process."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.platforms.telegram.delivery import PTB_TIMEDELTA
from tests.fakes.bot_process import BotProcess, run_to_end
from tests.fakes.bot_thread import wait_for_start
from tests.fakes.console_process import bot_env
from tests.fakes.discord.server import CHANNEL_ID, FakeDiscord
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.platforms.discord.conftest import discord_env, running, running_process
from tests.platforms.discord.helpers import last_finished

PRIVATE_CHAT = 5001


def test_a_refused_token_is_named_without_a_traceback(
    tmp_path: Path, discord_fake: FakeDiscord
) -> None:
    wrong = discord_fake.token[::-1]
    env = bot_env(
        tmp_path,
        DISCORD_TOKEN=wrong,
        DISCORD_API_URL=discord_fake.api_url,
        DISCORD_GATEWAY_URL=discord_fake.gateway_url,
    )
    result = run_to_end(tmp_path, env, "run")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "parlor: Discord refused DISCORD_TOKEN; copy the bot's token again."
    )
    assert "Traceback" not in result.stderr
    assert wrong not in result.stderr + result.stdout
    assert discord_fake.calls_to("GET /users/@me")[0].status == 401


def test_without_the_message_content_intent_the_bot_still_answers_mentions(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    migrated_template: Path,
) -> None:
    """Message Content is privileged: an operator who has not enabled it in the portal gets
    a bot that says so in its log once and answers mentions, instead of one that cannot
    start."""
    discord_fake.enabled_privileged_intents = 0
    with running(
        tmp_path, endpoint, discord_fake, bot_settings, encryption_key, template=migrated_template
    ) as process:
        discord_fake.user_message(CHANNEL_ID, "can you hear me?", mentions_bot=True)
        reply = last_finished(discord_fake, CHANNEL_ID)
        assert reply["content"] == "You said: can you hear me?"
        assert process.log.count("Message Content intent is off") == 1


def test_discord_and_telegram_run_in_one_process(
    tmp_path: Path,
    discord_fake: FakeDiscord,
    endpoint: FakeOpenAI,
    bot_settings: dict[str, str],
    encryption_key: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both platforms share the process and its event loop; each answers its own chats."""
    monkeypatch.setenv(PTB_TIMEDELTA, "true")
    with FakeTelegram.in_thread() as telegram:
        settings = bot_settings | {
            "TELEGRAM_TOKEN": telegram.token,
            "TELEGRAM_API_URL": telegram.base_url,
        }
        with running_process(tmp_path, endpoint, discord_fake, settings, encryption_key):
            telegram.wait_for_sync(lambda: telegram.waiting_polls > 0, timeout=60)
            telegram.user_message(PRIVATE_CHAT, "hello from Telegram")
            discord_fake.user_message(CHANNEL_ID, "hello from Discord", mentions_bot=True)
            reply = last_finished(discord_fake, CHANNEL_ID)
            telegram.wait_for_sync(
                lambda: (
                    [m.get("text") for m in telegram.messages(PRIVATE_CHAT)]
                    == ["You said: hello from Telegram"]
                ),
                timeout=30,
            )
    assert reply["content"] == "You said: hello from Discord"


def test_a_token_reset_while_running_ends_the_process_with_one_line(
    tmp_path: Path, discord_fake: FakeDiscord, endpoint: FakeOpenAI, encryption_key: str
) -> None:
    """A token reset in the developer portal closes the gateway with 4004, which discord.py
    does not retry: not a live but deaf process, an exit 1 and one line saying what to do."""
    route = "PUT /applications/{application_id}/commands"
    env = discord_env(tmp_path, endpoint, discord_fake, {"LOG_LEVEL": "WARNING"}, encryption_key)
    bot = BotProcess(tmp_path, env)
    try:
        wait_for_start(discord_fake, bot, lambda: bool(discord_fake.calls_to(route)), 60.0)
        token = discord_fake.token
        discord_fake.revoke_token()
        code = bot.process.wait(timeout=30)
    finally:
        bot.stop()
    lines = [line for line in bot.log.splitlines() if line.strip()]
    assert code == 1, bot.log
    assert lines[-1] == (
        "parlor: Discord closed the connection (code 4004): it refused DISCORD_TOKEN (the "
        "token was reset, or the bot deleted); copy the bot's current token from the "
        "developer portal into DISCORD_TOKEN"
    ), bot.log
    assert "Traceback" not in bot.log
    assert token not in bot.log
