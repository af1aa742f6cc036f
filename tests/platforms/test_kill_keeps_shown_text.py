"""Killed with SIGKILL mid-reply, the bot keeps at least the text the chat was last shown."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.platforms.telegram.delivery import PTB_TIMEDELTA
from tests.fakes.bot_process import BotProcess
from tests.fakes.bot_thread import run_console_in_thread, wait_for_start
from tests.fakes.console_process import ConsoleProcess, bot_env
from tests.fakes.leases import SHORT_LEASES, wait_until_leases_run_out
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram

pytestmark = pytest.mark.slow

KILLS = 10
STARTUP_SECONDS = 60.0


def pending_partial(workdir: Path) -> tuple[int, str]:
    """The id of the one pending reply, and the text it kept as it streamed."""
    with sqlite3.connect(workdir / "data" / "parlor.db") as db:
        rows = db.execute(
            "select id, partial from messages where role='assistant' and status='pending'"
        ).fetchall()
    assert len(rows) == 1, rows
    return int(rows[0][0]), str(rows[0][1] or "")


def reply_by_id(workdir: Path, reply_id: int) -> tuple[str, str]:
    with sqlite3.connect(workdir / "data" / "parlor.db") as db:
        row = db.execute("select status, content from messages where id=?", (reply_id,)).fetchone()
    return str(row[0]), str(row[1])


def last_reply(workdir: Path) -> tuple[str, str]:
    with sqlite3.connect(workdir / "data" / "parlor.db") as db:
        row = db.execute(
            "select status, content from messages where role='assistant' order by id desc limit 1"
        ).fetchone()
    return str(row[0]), str(row[1])


@pytest.mark.parametrize("run", range(KILLS))
def test_a_console_reply_killed_mid_stream_keeps_what_was_shown(
    tmp_path: Path, run: int, migrated_template: Path
) -> None:
    """After the kill the pending reply holds the last text shown; the next start after the
    killed bot's lease ran out keeps it, marked interrupted. (The next start runs in this
    process: settling is done by the composition root as it opens, the same code a new
    process runs.)"""
    with FakeOpenAI.in_thread() as fake:
        fake.token_interval_seconds = 0.01 + 0.01 * (run % 3)
        env = bot_env(
            tmp_path, DEFAULT_BASE_URL=fake.base_url, DEFAULT_MODEL="scenario/slow", **SHORT_LEASES
        )
        bot = ConsoleProcess(tmp_path, env)
        bot.send(f"tell me a long story, take {run}")
        edits_before_kill = 1 + run % 4
        for _ in range(edits_before_kill):
            bot.wait_for(lambda e: e["type"] == "edit")
        bot.kill()
        shown = [e["text"] for e in bot.events if e["type"] in ("send", "edit")][-1]
        assert shown.strip() not in ("", "…")
        assert pending_partial(tmp_path)[1].strip().startswith(shown.strip())

        wait_until_leases_run_out(tmp_path / "data" / "parlor.db")
        restarted = run_console_in_thread(tmp_path, env, "/settings", template=migrated_template)
        assert restarted.events
        status, content = last_reply(tmp_path)
        assert status == "interrupted"
        assert content.strip().startswith(shown.strip())


PRIVATE_CHAT = 5001


def accepted_drafts(telegram: FakeTelegram) -> list[str]:
    """The texts of the private chat's drafts that Telegram accepted, in order."""
    calls = telegram.calls_to("sendMessageDraft")
    return [str(c.params.get("text", "")) for c in calls if c.status == 200]


KILLS_PER_BOT = 2


@pytest.mark.parametrize("first_run", range(0, KILLS, KILLS_PER_BOT))
def test_a_telegram_reply_killed_mid_stream_keeps_what_was_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, first_run: int
) -> None:
    """Ten kills in all, two per bot: each time a private reply streams as drafts, and the
    stored reply holds at least the last draft text Telegram accepted; the next start keeps
    it. (Pairs, so that the ten spread over the test workers.)"""
    monkeypatch.setenv(PTB_TIMEDELTA, "true")
    with FakeOpenAI.in_thread() as endpoint, FakeTelegram.in_thread() as telegram:
        env = bot_env(
            tmp_path,
            TELEGRAM_TOKEN=telegram.token,
            TELEGRAM_API_URL=telegram.base_url,
            DEFAULT_BASE_URL=endpoint.base_url,
            DEFAULT_MODEL="scenario/slow",
            **SHORT_LEASES,
        )
        killed: tuple[int, str] | None = None
        for run in range(first_run, first_run + KILLS_PER_BOT):
            endpoint.token_interval_seconds = 0.01 + 0.01 * (run % 3)
            if killed is not None:
                wait_until_leases_run_out(tmp_path / "data" / "parlor.db")
            bot = started_bot(tmp_path, env, telegram)
            if killed is not None:  # the start settled the reply killed last time
                assert reply_by_id(tmp_path, killed[0]) == ("interrupted", killed[1])
            killed = kill_mid_reply(tmp_path, bot, telegram, drafts=1 + run % 3)


def started_bot(workdir: Path, env: dict[str, str], telegram: FakeTelegram) -> BotProcess:
    """Back once the bot is about to poll: python-telegram-bot deletes any webhook first.

    Not a getUpdates call: the fake records one when it is answered, a 10 s long poll later,
    and a killed bot's poll may still be open. Updates wait for a poll that confirms them.
    """
    starts = len(telegram.calls_to("deleteWebhook"))
    bot = BotProcess(workdir, env)
    wait_for_start(
        telegram, bot, lambda: len(telegram.calls_to("deleteWebhook")) > starts, STARTUP_SECONDS
    )
    return bot


def kill_mid_reply(
    workdir: Path, bot: BotProcess, telegram: FakeTelegram, *, drafts: int
) -> tuple[int, str]:
    """SIGKILL once `drafts` more drafts were accepted; the pending reply's id and text,
    checked to hold the last draft shown."""
    wanted = len(accepted_drafts(telegram)) + drafts
    telegram.user_message(PRIVATE_CHAT, "a long story, please")
    telegram.wait_for_sync(
        lambda: len(accepted_drafts(telegram)) >= wanted, timeout=STARTUP_SECONDS
    )
    bot.process.kill()
    bot.stop()
    shown = accepted_drafts(telegram)[-1]
    assert "t000001" in shown
    reply_id, stored = pending_partial(workdir)
    assert stored.strip().startswith(shown.strip()), bot.log
    return reply_id, stored
