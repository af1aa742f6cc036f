"""/usage and the rows behind it: what the endpoint reported, estimates, servers, UTC windows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from bot.app import Stores
from bot.core.domain import (
    Actor,
    ChannelKey,
    CommandCall,
    Connection,
    Delta,
    MessageStatus,
    ModelPrice,
    Permission,
    Secret,
    TokenSource,
    TokenTally,
    Usage,
    UsageEntry,
    UsageGroup,
)
from bot.core.errors import StorageError
from bot.service.commands.usage import Windows
from bot.storage.store import SqlStore
from bot.storage.usage import SqlUsage
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import Script, ScriptedClient, reply
from tests.service.conftest import CHANNEL, OPERATOR, Harness, build_service

SERVER = "guild-1"
DM = ChannelKey("test", "dm-ann")
KEY = "sk-usage-test-0123456789abcdef"


class WallClock:
    """The service's wall clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def counted(*tokens: str, prompt: int, completion: int) -> Script:
    """A reply whose stream ends with the endpoint's usage, as OpenAI sends it."""
    script = reply(*tokens)
    usage = Delta(usage=Usage(prompt_tokens=prompt, completion_tokens=completion))
    return Script(deltas=[*script.deltas, usage])


@pytest.fixture
def wall() -> WallClock:
    return WallClock(datetime(2026, 11, 22, 17, 30, tzinfo=UTC))


@pytest.fixture
def priced(stores: Stores[SqlStore], client: ScriptedClient, wall: WallClock) -> Harness:
    """The harness with a movable wall clock and MODEL_PRICES for op-model."""
    clock = FakeClock(auto=True)
    service = build_service(
        stores,
        client,
        clock,
        default=OPERATOR,
        wall_clock=wall,
        prices={"OP-MODEL": ModelPrice(1.0, 2.0)},
    )
    return Harness(service, stores, client, clock)


async def usage_rows(stores: Stores[SqlStore]) -> list[dict[str, object]]:
    usage = stores.usage
    assert isinstance(usage, SqlUsage)
    async with usage.reading() as session:
        result = await session.execute(text("SELECT * FROM usage ORDER BY id"))
        return [dict(row._mapping) for row in result]


async def test_usage_totals_equal_what_the_endpoint_reported(priced: Harness) -> None:
    """After several turns, /usage says the sum of the endpoint's own counts, not estimates."""
    reported = [(120, 7), (340, 15), (561, 22), (780, 31), (999, 40)]
    priced.client.scripts += [counted("Hi", prompt=p, completion=c) for p, c in reported]
    for turn in range(len(reported)):
        await priced.say(f"message {turn}", server=SERVER)

    answer = (await priced.command("usage", permission=Permission.EVERYONE)).text

    prompt, completion = (sum(side) for side in zip(*reported, strict=True))
    assert f"Today: 5 turns, {prompt:,} prompt + {completion:,} completion tokens" in answer
    assert f"This month: 5 turns, {prompt:,} prompt + {completion:,}" in answer
    assert "UTC" in answer
    assert "stimated" not in answer


async def test_a_turn_without_usage_is_counted_ourselves_and_said_so(priced: Harness) -> None:
    """An endpoint that reports nothing still costs something: estimated, and marked."""
    priced.client.scripts += [reply("Hello there"), counted("Hi", prompt=10, completion=2)]
    await priced.say("hi")
    await priced.say("again")

    rows = await usage_rows(priced.stores)
    answer = (await priced.command("usage")).text

    assert [(r["prompt_estimated"], r["completion_estimated"]) for r in rows] == [
        (True, True),
        (False, False),
    ]
    assert isinstance(rows[0]["completion_tokens"], int)
    assert rows[0]["completion_tokens"] > 0
    assert "Estimated in part" in answer
    assert "1 of this month's 2 turns" in answer


async def test_an_admin_sees_the_server_by_user_and_model(priced: Harness) -> None:
    """scope:server totals the month per person and per model, the biggest first."""
    priced.client.scripts += [
        counted("a", prompt=100, completion=10),
        counted("b", prompt=300, completion=30),
        counted("c", prompt=50, completion=5),
    ]
    await priced.say("one", author="ann", server=SERVER)
    await priced.say("two", author="bob", server=SERVER)
    await priced.command("model", name="other-model")
    await priced.say("three", author="ann", server=SERVER)

    admin = Permission.SERVER_ADMIN
    answer = (await priced.command("usage", scope="server", server=SERVER, permission=admin)).text

    assert "3 turns, 450 prompt + 45 completion tokens" in answer
    users = answer.split("Top users:")[1].split("Top models:")[0]
    models = answer.split("Top models:")[1]
    assert users.strip().splitlines() == [
        "• bob — 1 turn, 300 + 30 tokens ≈ $0.0004",
        "• ann — 2 turns, 150 + 15 tokens ≈ $0.0001 (+ unpriced models)",
    ]
    assert models.strip().splitlines() == [
        "• `op-model` — 2 turns, 400 + 40 tokens ≈ $0.0005",
        "• `other-model` — 1 turn, 50 + 5 tokens",
    ]


async def test_a_member_may_not_see_the_servers_usage(priced: Harness) -> None:
    """Other people's usage is for the server's admins and the operator only."""
    answer = await priced.command(
        "usage", scope="server", server=SERVER, permission=Permission.CHANNEL_ADMIN
    )

    assert "needs the right to manage the server" in answer.text


async def test_a_dm_has_no_server(priced: Harness) -> None:
    """scope:server in a direct chat says there is none, even to the operator."""
    answer = await priced.command("usage", scope="server", channel=DM)

    assert "no server" in answer.text


async def test_a_dm_turn_counts_to_the_person_not_to_a_server(priced: Harness) -> None:
    """A DM's turn is in the person's totals and in no server's."""
    priced.client.scripts.append(counted("hi", prompt=11, completion=1))
    await priced.say("hello", channel=DM)

    rows = await usage_rows(priced.stores)
    mine = await priced.command("usage")
    servers = await priced.command("usage", scope="server", server=SERVER)

    assert [(r["user_id"], r["server_id"], r["channel_id"]) for r in rows] == [
        ("ann", None, "dm-ann")
    ]
    assert "Today: 1 turn, 11 prompt + 1 completion tokens" in mine.text
    assert "no turns yet" in servers.text


async def test_a_regenerated_reply_counts_to_whoever_asked_for_it(priced: Harness) -> None:
    """/regenerate costs the presser, in the server the command came from."""
    priced.client.scripts += [
        counted("a", prompt=5, completion=1),
        counted("b", prompt=6, completion=2),
    ]
    await priced.say("hi", author="ann", server=SERVER)
    actor = Actor("bob", "Bob", Permission.EVERYONE)
    call = CommandCall("regenerate", {}, CHANNEL, actor, server=SERVER)
    await priced.service.rewrite(call, priced.replier())

    rows = await usage_rows(priced.stores)

    assert [(r["user_id"], r["server_id"], r["prompt_tokens"]) for r in rows] == [
        ("ann", SERVER, 5),
        ("bob", SERVER, 6),
    ]


async def test_the_key_and_url_never_reach_a_usage_row(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """Only the host is kept: no key, no credentials, no path or query from the URL."""
    url = f"https://user:hunter2@api.example.com:8443/v1?key={KEY}"
    connection = Connection(url, model="op-model", api_key=Secret(KEY), trusted=True)
    harness = Harness(
        build_service(stores, client, FakeClock(auto=True), default=connection),
        stores,
        client,
        FakeClock(auto=True),
    )
    client.scripts.append(counted("hi", prompt=3, completion=1))
    await harness.say("hello", server=SERVER)

    rows = await usage_rows(stores)

    assert len(rows) == 1
    assert rows[0]["endpoint_host"] == "api.example.com:8443"
    assert rows[0]["trusted"] in (True, 1)
    for column, value in rows[0].items():
        for secret in (KEY, "hunter2", "/v1", "user:"):
            assert secret not in str(value), column


@pytest.mark.parametrize(
    ("turn_at", "asked_at", "today", "month"),
    [
        pytest.param("2026-11-30T23:59:59Z", "2026-12-01T00:00:00Z", 0, 0, id="new month"),
        pytest.param("2026-11-22T23:59:00Z", "2026-11-23T00:01:00Z", 0, 1, id="new day"),
        pytest.param("2026-11-22T00:00:00Z", "2026-11-22T23:59:59Z", 1, 1, id="same day"),
        # 01:00 in UTC+2 on the 1st is still the 30th in UTC: November's.
        pytest.param("2026-12-01T01:00:00+02:00", "2026-11-30T23:30:00Z", 1, 1, id="zone"),
    ],
)
async def test_days_and_months_end_at_midnight_utc(
    priced: Harness, wall: WallClock, turn_at: str, asked_at: str, today: int, month: int
) -> None:
    """A turn counts in the UTC day and month it happened in, whatever zone the clock has."""
    priced.client.scripts.append(counted("hi", prompt=10, completion=1))
    wall.now = datetime.fromisoformat(turn_at)
    await priced.say("hello")
    wall.now = datetime.fromisoformat(asked_at)

    answer = (await priced.command("usage")).text

    if month == 0:
        assert answer.startswith("You have used no tokens this month")
        assert "this month 2026-12-01 00:00" in answer
    else:
        assert f"Today: {today} turn" in answer
        assert f"This month: {month} turn" in answer


class BrokenLedger:
    """A usage store whose database refuses every write."""

    def __init__(self) -> None:
        self.tried = 0

    async def record(self, entry: UsageEntry) -> None:
        self.tried += 1
        raise StorageError("The database could not record a turn's usage (OperationalError).")

    async def totals(self, platform: str, **window: object) -> list[UsageGroup]:
        return []


@pytest.fixture
def broken(stores: Stores[SqlStore], client: ScriptedClient) -> tuple[Harness, BrokenLedger]:
    ledger = BrokenLedger()
    failing = Stores(stores.store, stores.profiles, stores.characters, stores.personas, ledger)
    clock = FakeClock(auto=True)
    connection = Connection("http://operator.example/v1", "op-model", Secret(KEY), trusted=True)
    service = build_service(failing, client, clock, default=connection)
    return Harness(service, stores, client, clock), ledger


async def test_a_ledger_that_fails_does_not_fail_the_turn(
    broken: tuple[Harness, BrokenLedger], caplog: pytest.LogCaptureFixture
) -> None:
    """The reply is delivered and stored whole; the failure is one warning without the key."""
    harness, ledger = broken
    harness.client.scripts.append(counted("Hello", "!", prompt=4, completion=2))
    replier = harness.replier()

    with caplog.at_level(logging.WARNING):
        outcome = await harness.say("hi", replier=replier)

    assert (outcome.status, outcome.content) == (MessageStatus.COMPLETE, "Hello!")
    assert list(replier.messages.values()) == ["Hello!"]
    assert ledger.tried == 1
    assert "could not record a turn's usage" in caplog.text
    assert KEY not in caplog.text


async def test_a_turn_that_never_reached_the_endpoint_is_not_counted(
    stores: Stores[SqlStore], client: ScriptedClient
) -> None:
    """No endpoint configured: nothing began, so there is nothing to count."""
    harness = Harness(
        build_service(stores, client, FakeClock(auto=True), default=None),
        stores,
        client,
        FakeClock(auto=True),
    )
    await harness.say("hello")

    assert await usage_rows(stores) == []


async def test_a_crowded_server_answer_fits_one_discord_message(
    priced: Harness, stores: Stores[SqlStore], wall: WallClock
) -> None:
    """Many people and long model names: the ranking shrinks until the answer fits 2,000."""
    for person in range(40):
        await stores.usage.record(
            UsageEntry(
                created_at=wall.now - timedelta(hours=person % 5),
                platform=CHANNEL.platform,
                user_id=f"{10**17 + person}",
                server=SERVER,
                channel=CHANNEL.external_id,
                model=f"organisation-{person}/a-very-long-model-name-{'x' * 80}",
                endpoint_host="api.example.com",
                trusted=True,
                prompt_tokens=TokenTally(1000 + person, TokenSource.ENDPOINT),
                completion_tokens=TokenTally(100, TokenSource.ESTIMATED),
                duration_seconds=1.0,
                status=MessageStatus.COMPLETE,
            )
        )

    answer = (await priced.command("usage", scope="server", server=SERVER)).text

    assert len(answer) <= 2000
    assert answer.split("Top users:\n")[1].startswith("• 100000000000000039 — 1 turn, 1,039 + 100")
    assert "more" in answer
    assert "40 of these 40 turns" in answer


def test_windows_are_utc_days_and_months() -> None:
    """A December's month ends at January's first midnight, a zone's time is moved to UTC."""
    windows = Windows.around(datetime(2026, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-3))))

    assert windows.day_start == datetime(2027, 1, 1, tzinfo=UTC)
    assert windows.month_start == datetime(2027, 1, 1, tzinfo=UTC)
    assert windows.month_end == datetime(2027, 2, 1, tzinfo=UTC)


async def test_a_person_with_several_models_sees_each(priced: Harness) -> None:
    """Someone who used two models this month sees what each cost, the biggest first."""
    priced.client.scripts += [
        counted("a", prompt=100, completion=10),
        counted("b", prompt=300, completion=30),
    ]
    await priced.say("one")
    await priced.command("model", name="other-model")
    await priced.say("two")

    answer = (await priced.command("usage", permission=Permission.EVERYONE)).text

    assert answer.split("This month by model:\n")[1].splitlines() == [
        "• `other-model` — 1 turn, 300 + 30 tokens",
        "• `op-model` — 1 turn, 100 + 10 tokens ≈ $0.0001",
    ]


async def test_a_database_that_refuses_the_row_does_not_fail_the_turn(
    priced: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """With the usage table gone the reply is still delivered and stored complete."""
    usage = priced.stores.usage
    assert isinstance(usage, SqlUsage)
    async with usage.writing() as session:
        await session.execute(text("DROP TABLE usage"))
    priced.client.scripts.append(counted("Hello", prompt=3, completion=1))
    replier = priced.replier()

    with caplog.at_level(logging.WARNING):
        outcome = await priced.say("hi", replier=replier)

    state = await priced.store.load_channel(CHANNEL)
    stored = await priced.store.history(state.chat_id, limit=1)
    assert (outcome.status, list(replier.messages.values())) == (MessageStatus.COMPLETE, ["Hello"])
    assert [(m.content, m.status) for m in stored] == [("Hello", MessageStatus.COMPLETE)]
    assert "could not record a turn's usage: StorageError" in caplog.text
