"""Two `parlor run` processes in Telegram webhook mode serve one bot from one PostgreSQL
database, behind a stand-in load balancer (the fake Bot API posts updates to their two
listeners in turn): every turn is answered once, by whichever worker got it, and stored
once, in order, even as a chat's turns alternate between the workers; an update delivered
to both is answered once; a Stop that reaches the other worker stops the reply; two
messages of one chat sent at once to different workers are answered one after the other."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot.platforms.telegram.delivery import PTB_TIMEDELTA
from tests.fakes.bot_process import BotProcess
from tests.fakes.console_process import bot_env
from tests.fakes.openai.server import FakeOpenAI
from tests.fakes.telegram.server import FakeTelegram
from tests.platforms.telegram.test_telegram_buttons import ADMIN, GROUP, labels, press
from tests.platforms.telegram.webhook_workers import (
    SECRET,
    free_port,
    listener_url,
    wait_until_ready,
    webhook_settings,
)
from tests.storage.conftest import empty_tables, postgres_migrated_url  # noqa: F401 - fixture

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PUBLIC_URL = "https://parlor.example.org/telegram/updates"
CHATS = [7001, 7002, 7003, 7004, 7005]
ROUNDS = 4
"""5 chats, 4 rounds: = 20 turns. An odd number of chats per round makes the balancer's
turns alternate each chat between the two workers from one round to the next."""
TIMEOUT = 60.0


@pytest.fixture
def telegram(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTelegram]:
    monkeypatch.setenv(PTB_TIMEDELTA, "true")
    with FakeTelegram.in_thread() as fake:
        yield fake


@pytest.fixture
def endpoint() -> Iterator[FakeOpenAI]:
    with FakeOpenAI.in_thread() as fake:
        yield fake


@pytest.fixture
def database(postgres_migrated_url: str) -> str:  # noqa: F811 - the fixture imported above
    """The migrated PostgreSQL database of this test session, emptied for this test."""
    asyncio.run(empty_tables(postgres_migrated_url))
    return postgres_migrated_url


@contextlib.contextmanager
def workers(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI, database: str
) -> Iterator[list[BotProcess]]:
    """Two worker processes started together, each on its own port, back once both take
    updates; both must stop cleanly, token and secret unlogged."""
    ports = [free_port(), free_port()]
    telegram.balance_to(*(listener_url(port) for port in ports))
    bots = []
    for number, port in enumerate(ports):
        workdir = tmp_path / f"worker{number}"
        workdir.mkdir()
        env = bot_env(
            workdir,
            DATABASE_URL=database,
            TELEGRAM_TOKEN=telegram.token,
            TELEGRAM_API_URL=telegram.base_url,
            DEFAULT_BASE_URL=endpoint.base_url,
            DEFAULT_MODEL="fake-model",
            **webhook_settings(port, public_url=PUBLIC_URL),
        )
        bots.append(BotProcess(workdir, env))
    try:
        for bot, port in zip(bots, ports, strict=True):
            wait_until_ready(bot, port)
        yield bots
    finally:
        codes = [bot.stop() for bot in bots]
    for bot, code in zip(bots, codes, strict=True):
        assert code == 0, bot.log
        assert "Traceback" not in bot.log, bot.log
        assert telegram.token.split(":", 1)[1] not in bot.log, "the bot token leaked"
        assert SECRET not in bot.log, "the webhook secret leaked"


def said(chat: int, round_: int) -> str:
    return f"round {round_} in chat {chat}"


def shown(telegram: FakeTelegram, chat: int) -> list[str]:
    return [str(m.get("text", "")) for m in telegram.messages(chat)]


async def stored_turns(database: str, chat: int) -> list[tuple[str, str, str]]:
    """A chat's stored messages, oldest first: (role, status, content)."""
    engine = create_async_engine(database)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "select m.role, m.status, m.content from messages m "
                    "join chats c on c.id = m.chat_id join channels ch on ch.id = c.channel_id "
                    "where ch.platform = 'telegram' and ch.external_id = :chat order by m.id"
                ),
                {"chat": str(chat)},
            )
            return [(str(role), str(status), str(content)) for role, status, content in rows]
    finally:
        await engine.dispose()


def test_two_workers_answer_twenty_turns_once_each(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI, database: str
) -> None:
    """20 turns through the balancer: each delivered once and taken (200), each worker
    taking half; each chat shows exactly its replies, in order, and stores each turn once.
    Then one worker stops: the next update it would have had reaches the other."""
    with workers(tmp_path, telegram, endpoint, database) as bots:
        for round_ in range(ROUNDS):
            for chat in CHATS:
                telegram.user_message(chat, said(chat, round_))
            expected = {
                chat: [f"You said: {said(chat, r)}" for r in range(round_ + 1)] for chat in CHATS
            }
            telegram.wait_for_sync(
                lambda expected=expected: all(
                    shown(telegram, chat) == expected[chat] for chat in CHATS
                ),
                timeout=TIMEOUT,
            )
        deliveries = telegram.deliveries
        assert bots[0].stop() == 0, bots[0].log
        telegram.user_message(CHATS[0], "one worker is gone")
        telegram.wait_for_sync(
            lambda: shown(telegram, CHATS[0])[-1:] == ["You said: one worker is gone"],
            timeout=TIMEOUT,
        )

    assert [d.status for d in deliveries] == [200] * len(CHATS) * ROUNDS, "no retries, none lost"
    assert len({d.update_id for d in deliveries}) == len(CHATS) * ROUNDS
    per_worker = {url: sum(d.url == url for d in deliveries) for url in {d.url for d in deliveries}}
    assert sorted(per_worker.values()) == [10, 10], per_worker
    for chat in CHATS:
        served_by = {d.url for d in deliveries if d.chat_id == chat}
        assert len(served_by) == 2, "the chat's turns alternated between the workers"
        turns = asyncio.run(stored_turns(database, chat))
        expected_rows = []
        for round_ in range(ROUNDS):
            expected_rows.append(("user", "complete", said(chat, round_)))
            expected_rows.append(("assistant", "complete", f"You said: {said(chat, round_)}"))
        if chat == CHATS[0]:
            expected_rows.append(("user", "complete", "one worker is gone"))
            expected_rows.append(("assistant", "complete", "You said: one worker is gone"))
        assert turns == expected_rows, turns
    after = telegram.deliveries[len(deliveries) :]
    assert [d.status for d in after][-1] == 200, "the survivor took what the gone one could not"
    assert [d.status for d in after][:-1] in ([], [0], [503]), after
    assert len(telegram.calls_to("setWebhook")) <= 2, "each worker sets it at most once"
    webhook = telegram.webhook
    assert webhook is not None
    assert webhook.url == PUBLIC_URL
    assert telegram.calls_to("getUpdates") == []


def test_an_update_delivered_to_both_workers_is_answered_once(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI, database: str
) -> None:
    """Our 200 is lost on the way: Telegram delivers the update again, and the balancer
    gives the copy to the other worker, which takes it (200) and drops it; the chat gets
    one reply, stored once."""
    chat = CHATS[0]
    with workers(tmp_path, telegram, endpoint, database):
        telegram.lose_answers(1)
        telegram.user_message(chat, "said once")
        telegram.wait_for_sync(
            lambda: (
                len(telegram.deliveries) == 2 and shown(telegram, chat) == ["You said: said once"]
            ),
            timeout=TIMEOUT,
        )  # the copy claimed first is answered, the other dropped
        telegram.user_message(chat, "said after")
        telegram.wait_for_sync(
            lambda: shown(telegram, chat)[-1:] == ["You said: said after"], timeout=TIMEOUT
        )
        first, again, _after = telegram.deliveries

    assert first.update_id == again.update_id
    assert (first.status, again.status) == (200, 200)
    assert first.url != again.url, "the copy went to the other worker"
    assert shown(telegram, chat) == ["You said: said once", "You said: said after"]
    assert asyncio.run(stored_turns(database, chat)) == [
        ("user", "complete", "said once"),
        ("assistant", "complete", "You said: said once"),
        ("user", "complete", "said after"),
        ("assistant", "complete", "You said: said after"),
    ]


def test_a_stop_pressed_on_one_worker_stops_the_reply_the_other_writes(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI, database: str
) -> None:
    """A member's long reply streams from one worker; the balancer gives their Stop press
    to the other, where nothing runs. Within about a second the writing worker stops it:
    the chat shows the words so far with the stopped note, and they are stored as stopped."""
    member = 2002
    with workers(tmp_path, telegram, endpoint, database):
        telegram.set_member(GROUP, ADMIN, "creator")
        telegram.user_message(GROUP, "/model scenario/slow", from_user=ADMIN)
        telegram.wait_for_sync(lambda: len(shown(telegram, GROUP)) == 1, timeout=TIMEOUT)
        telegram.user_message(GROUP, "@parlor_test_bot go on and on", from_user=member)
        streaming = telegram.wait_for_sync(
            lambda: next(
                (m for m in telegram.messages(GROUP)[1:] if "Stop" in str(labels(m))), None
            ),
            timeout=TIMEOUT,
        )
        press(telegram, GROUP, streaming["message_id"], "Stop", from_user=member)
        telegram.wait_for_sync(lambda: "(stopped)" in shown(telegram, GROUP)[-1], timeout=TIMEOUT)
        asked, pressed = telegram.deliveries[-2:]

    assert asked.url != pressed.url, "the press reached the worker not writing the reply"
    words, note = shown(telegram, GROUP)[-1].split("\n\n")
    assert words.startswith("t000001 t000002")
    assert note == "(stopped)"
    role, status, content = asyncio.run(stored_turns(database, GROUP))[-1]
    assert (role, status, content.strip()) == ("assistant", "stopped", words)


def test_two_messages_at_once_on_two_workers_are_answered_one_after_the_other(
    tmp_path: Path, telegram: FakeTelegram, endpoint: FakeOpenAI, database: str
) -> None:
    """Two messages of one chat posted together reach different workers while the model
    takes about two seconds a reply: the second is asked of the model only once the first
    reply is complete (its prompt holds that whole reply), and both are shown whole."""
    chat = 7101
    endpoint.default_scenario = "paced"  # 100 tokens, one every 20 ms
    endpoint.token_interval_seconds = 0.02
    whole = " ".join(f"t{index:06d}" for index in range(1, 101))
    with workers(tmp_path, telegram, endpoint, database):
        telegram.user_message(chat, "first")
        telegram.user_message(chat, "second")
        telegram.wait_for_sync(lambda: shown(telegram, chat) == [whole, whole], timeout=TIMEOUT)
        deliveries = telegram.deliveries

    assert len({d.url for d in deliveries}) == 2, "the two messages reached different workers"
    asked = [r.json for r in endpoint.requests if r.path == "/v1/chat/completions"]
    assert len(asked) == 2
    later = asked[1]["messages"]
    earlier_reply = [m for m in later if m["role"] == "assistant"]
    assert [str(m["content"]).strip() for m in earlier_reply] == [whole], (
        "the second turn began only after the first reply was complete"
    )
