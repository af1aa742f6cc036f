"""Quotas through the service on a real SQLite file, with the wall clock in the test's hand:
sliding minutes, UTC day and month resets, servers' own limits, own endpoints, restarts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.app import Stores, sql_stores
from bot.core.domain import (
    Actor,
    ChannelKey,
    CommandCall,
    Delta,
    MessageStatus,
    Permission,
    TurnOutcome,
    Usage,
)
from bot.core.quotas import Limits
from bot.storage.db import create_engine, create_sessions
from bot.storage.secrets import SecretBox
from bot.storage.store import SqlStore
from tests.fakes.clock import FakeClock
from tests.fakes.openai.scripted_client import Script, ScriptedClient, reply
from tests.service.conftest import CHANNEL, OPERATOR, Harness, build_service

SERVER = "guild-1"
DM = ChannelKey("test", "dm-ann")
OWN = ChannelKey("test", "own-endpoint")
NOON = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
ADMIN = Permission.SERVER_ADMIN


class WallClock:
    """The service's wall clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def move(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def counted(prompt: int, completion: int) -> Script:
    """A reply whose stream ends with the endpoint's usage, as OpenAI sends it."""
    script = reply("Hi")
    usage = Delta(usage=Usage(prompt_tokens=prompt, completion_tokens=completion))
    return Script(deltas=[*script.deltas, usage])


Limited = Callable[..., Harness]


@pytest.fixture
def wall() -> WallClock:
    return WallClock(NOON)


@pytest.fixture
def limited(stores: Stores[SqlStore], client: ScriptedClient, wall: WallClock) -> Limited:
    """A harness whose operator set these QUOTA_* limits, on the test's wall clock."""

    def build(**limits: int) -> Harness:
        clock = FakeClock(auto=True)
        service = build_service(
            stores, client, clock, default=OPERATOR, wall_clock=wall, limits=Limits(**limits)
        )
        return Harness(service, stores, client, clock)

    return build


async def said(harness: Harness, text_: str, **where: object) -> TurnOutcome:
    """One message; the endpoint answers with 60 + 10 tokens if it is asked."""
    harness.client.scripts.append(counted(60, 10))
    return await harness.say(text_, **where)  # type: ignore[arg-type]


def refused(outcome: TurnOutcome) -> str:
    assert outcome.status is MessageStatus.ERROR
    assert outcome.error_text is not None
    return outcome.error_text


async def texts(harness: Harness, channel: ChannelKey = CHANNEL) -> list[str]:
    state = await harness.store.load_channel(channel)
    return [message.content for message in await harness.store.history(state.chat_id, limit=50)]


async def admissions(stores: Stores[SqlStore]) -> int:
    async with stores.store.reading() as session:
        return int(await session.scalar(text("SELECT count(*) FROM quota_admissions")) or 0)


async def test_a_person_past_their_rate_is_refused_and_nothing_is_sent_or_kept(
    limited: Limited,
) -> None:
    """The third message in a minute gets one line; the endpoint never sees it, nor the history."""
    harness = limited(user_messages_per_minute=2)
    await said(harness, "one")
    await said(harness, "two")
    replier = harness.replier()

    outcome = await harness.say("three", replier=replier)

    line = "You've reached your limit of 2 messages per minute; try again in 60 s."
    assert refused(outcome) == line
    assert replier.texts == [line]
    assert len(harness.client.requests) == 2
    assert "three" not in await texts(harness)


async def test_the_minute_slides(limited: Limited, wall: WallClock) -> None:
    """A place frees 60 s after the admission that took it, not at the next whole minute."""
    harness = limited(user_messages_per_minute=2)
    await said(harness, "at 0 s")
    wall.move(seconds=30)
    await said(harness, "at 30 s")
    wall.move(seconds=29)
    at_59 = await said(harness, "at 59 s")
    wall.move(seconds=1)
    at_60 = await said(harness, "at 60 s")
    wall.move(seconds=1)
    at_61 = await said(harness, "at 61 s")

    assert refused(at_59).endswith("try again in 1 s.")
    assert at_60.status is MessageStatus.COMPLETE
    assert refused(at_61).endswith("try again in 29 s.")


async def test_a_servers_rate_counts_everyone_there_and_no_dm(limited: Limited) -> None:
    """Two people fill the server's minute; a third is refused there but not in a DM."""
    harness = limited(server_messages_per_minute=2)
    await said(harness, "hi", author="ann", server=SERVER)
    await said(harness, "hi", author="bob", server=SERVER)

    carl = await said(harness, "hi", author="carl", server=SERVER)
    in_dm = await said(harness, "hi", author="carl", channel=DM)

    assert refused(carl) == "This server has reached its limit of 2 messages per minute; " + (
        "try again in 60 s."
    )
    assert in_dm.status is MessageStatus.COMPLETE


async def test_tokens_per_day_reset_at_utc_midnight(limited: Limited, wall: WallClock) -> None:
    """Used up at noon: refused until 00:00 UTC, then let through."""
    harness = limited(user_tokens_per_day=100)
    await said(harness, "70 tokens")
    await said(harness, "140 tokens")
    at_noon = await said(harness, "refused")
    wall.now = datetime(2026, 11, 22, 23, 59, 30, tzinfo=UTC)
    before_midnight = await said(harness, "still refused")
    wall.now = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    after = await said(harness, "a new day")

    assert refused(at_noon) == (
        "You've reached your limit of 100 tokens per day; it resets at 00:00 UTC, in 12 h."
    )
    assert refused(before_midnight).endswith("at 00:00 UTC, in 30 s.")
    assert after.status is MessageStatus.COMPLETE
    assert len(harness.client.requests) == 3


async def test_tokens_per_month_reset_at_the_months_start(
    limited: Limited, wall: WallClock
) -> None:
    """What was spent on the 22nd still counts on the 30th, and no more on the 1st."""
    harness = limited(user_tokens_per_month=50)
    await said(harness, "70 tokens")
    wall.now = datetime(2026, 11, 30, 21, 15, tzinfo=UTC)
    late = await said(harness, "refused")
    wall.now = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    next_month = await said(harness, "a new month")

    assert refused(late) == (
        "You've reached your limit of 50 tokens per month; "
        "it resets on 2026-12-01 at 00:00 UTC, in 2 h 45 min."
    )
    assert next_month.status is MessageStatus.COMPLETE


async def test_a_server_has_its_own_token_budget(limited: Limited) -> None:
    """Everyone's tokens in the server count to it; one person's DMs do not."""
    harness = limited(server_tokens_per_day=100)
    await said(harness, "hi", author="ann", server=SERVER)
    await said(harness, "hi", author="ann", channel=DM)
    await said(harness, "hi", author="bob", server=SERVER)

    carl = await said(harness, "hi", author="carl", server=SERVER)

    assert refused(carl).startswith("This server has reached its limit of 100 tokens per day")


async def test_an_own_endpoint_is_held_to_the_rate_but_not_to_tokens(limited: Limited) -> None:
    """Tokens used up on the operator's endpoint; a channel on its own one still talks, and
    its tokens count to no quota, but its messages count to the minute."""
    harness = limited(user_tokens_per_day=50, user_messages_per_minute=3)
    await harness.command("connect", channel=OWN, base_url="http://own.example/v1", model="m")
    await said(harness, "70 tokens on the operator's")
    on_operators = await said(harness, "refused for tokens")
    on_own = [await said(harness, f"own {n}", channel=OWN) for n in range(3)]

    assert "tokens per day" in refused(on_operators)
    assert on_own[0].status is MessageStatus.COMPLETE
    assert on_own[1].status is MessageStatus.COMPLETE
    assert refused(on_own[2]).startswith("You've reached your limit of 3 messages per minute")


async def test_an_admins_lower_limit_applies_in_their_server_only(limited: Limited) -> None:
    """A server's own limit for each person counts their turns there; their DMs keep the
    operator's."""
    harness = limited(user_tokens_per_day=1000)
    answer = await harness.command(
        "limits", permission=ADMIN, server=SERVER, user_tokens_per_day="50"
    )
    await said(harness, "70 tokens", server=SERVER)

    in_server = await said(harness, "refused", server=SERVER)
    in_dm = await said(harness, "fine", channel=DM)

    assert "user_tokens_per_day 50" in answer.text
    assert refused(in_server) == (
        "You've reached your limit in this server of 50 tokens per day (set by this server's "
        "admins); it resets at 00:00 UTC, in 12 h."
    )
    assert in_dm.status is MessageStatus.COMPLETE


async def test_an_admin_cannot_raise_a_limit_above_the_operators(limited: Limited) -> None:
    """A higher value is refused, naming the operator's cap, and nothing changes."""
    harness = limited(user_tokens_per_day=1000, server_messages_per_minute=1)
    answer = await harness.command(
        "limits", permission=ADMIN, server=SERVER, user_tokens_per_day="5000"
    )
    await said(harness, "hi", server=SERVER)

    second = await said(harness, "refused", server=SERVER)

    assert answer.text.startswith("user_tokens_per_day can be at most 1,000 here")
    assert "operator" in answer.text
    assert refused(second).startswith("This server has reached its limit of 1 messages")
    shown = await harness.command("limits", server=SERVER, permission=Permission.EVERYONE)
    assert "admins" not in shown.text


async def test_an_admin_may_limit_what_the_operator_left_open(limited: Limited) -> None:
    """With no operator limits a server may still set its own; reset:true drops them."""
    harness = limited()
    await harness.command("limits", permission=ADMIN, server=SERVER, server_messages_per_minute="1")
    await said(harness, "hi", server=SERVER)
    limited_turn = await said(harness, "refused", server=SERVER)
    answer = await harness.command("limits", permission=ADMIN, server=SERVER, reset="true")
    after_reset = await said(harness, "fine", server=SERVER)

    assert refused(limited_turn) == (
        "This server has reached its limit of 1 messages per minute (set by this server's "
        "admins); try again in 60 s."
    )
    assert "cleared" in answer.text
    assert after_reset.status is MessageStatus.COMPLETE


async def test_only_a_servers_admins_set_its_limits(limited: Limited) -> None:
    """A member is refused; in a DM there is no server to set them for."""
    harness = limited()
    member = await harness.command(
        "limits", permission=Permission.CHANNEL_ADMIN, server=SERVER, user_tokens_per_day="9"
    )
    in_dm = await harness.command("limits", channel=DM, user_tokens_per_day="9")
    negative = await harness.command("limits", permission=ADMIN, server=SERVER, reset="maybe")

    assert "needs the right to manage the server" in member.text
    assert "Limits are set in a server" in in_dm.text
    assert negative.text == "reset must be true or false."


async def test_limits_shows_what_is_used_and_left(limited: Limited) -> None:
    """/limits alone: each limit here with what is used and left, and when tokens reset."""
    harness = limited(user_messages_per_minute=5, user_tokens_per_day=1000)
    await said(harness, "70 tokens", server=SERVER)

    answer = await harness.command("limits", server=SERVER, permission=Permission.EVERYONE)

    assert answer.text.splitlines() == [
        "Your limits here (days and months in UTC):",
        "• Your messages per minute: 1 of 5 used, 4 left",
        "• Your tokens today: 70 of 1,000 used, 930 left; resets at 00:00 UTC, in 12 h",
    ]


async def test_limits_on_an_own_endpoint_shows_only_the_rate(limited: Limited) -> None:
    """Token limits do not apply to a channel's own endpoint, and /limits says so."""
    harness = limited(user_messages_per_minute=5, user_tokens_per_day=1000)
    await harness.command("connect", channel=OWN, base_url="http://own.example/v1", model="m")

    answer = await harness.command("limits", channel=OWN, permission=Permission.EVERYONE)

    assert "• Your messages per minute: 0 of 5 used, 5 left" in answer.text
    assert "tokens" not in answer.text.split("\n", 2)[1]
    assert "only the per-minute limits apply here" in answer.text


async def test_a_regenerate_is_counted_and_refused_like_a_message(limited: Limited) -> None:
    """/regenerate past the rate sends nothing and leaves the reply as it was."""
    harness = limited(user_messages_per_minute=1)
    await said(harness, "hi")
    call = CommandCall("regenerate", {}, CHANNEL, Actor("ann", "Ann", Permission.EVERYONE))
    harness.client.scripts.append(counted(1, 1))

    outcome = await harness.service.rewrite(call, harness.replier())

    assert refused(outcome).startswith("You've reached your limit of 1 messages per minute")
    assert len(harness.client.requests) == 1
    assert await texts(harness) == ["hi", "Hi"]


async def test_without_limits_no_admission_is_kept(limited: Limited) -> None:
    """The default: no limits, no rows."""
    harness = limited()
    await said(harness, "hi", server=SERVER)
    await said(harness, "hi", channel=DM)

    assert await admissions(harness.stores) == 0


async def test_old_admissions_are_deleted_as_the_gate_goes(
    limited: Limited, wall: WallClock
) -> None:
    """Rows no window reaches are deleted by later turns, minutes later."""
    harness = limited(user_messages_per_minute=100)
    for _ in range(3):
        await said(harness, "hi")
    wall.move(minutes=10)
    await said(harness, "later")

    assert await admissions(harness.stores) == 1


@pytest.fixture
async def reopened(
    migrated_sqlite_url: str, secret_box: SecretBox
) -> AsyncIterator[Callable[[], Stores[SqlStore]]]:
    """Stores on a fresh engine each call: the database file as a restarted bot finds it."""
    engines = []

    def open_() -> Stores[SqlStore]:
        engine = create_engine(migrated_sqlite_url)
        engines.append(engine)
        return sql_stores(create_sessions(engine), secret_box=secret_box)

    yield open_
    for engine in engines:
        await engine.dispose()


async def test_counting_survives_a_restart(
    reopened: Callable[[], Stores[SqlStore]], wall: WallClock
) -> None:
    """A new service on the same file remembers the minute's messages and the day's tokens."""
    limits = Limits(user_messages_per_minute=2, user_tokens_per_day=150)

    def started() -> Harness:
        client, clock = ScriptedClient(), FakeClock(auto=True)
        stores = reopened()
        service = build_service(
            stores, client, clock, default=OPERATOR, wall_clock=wall, limits=limits
        )
        return Harness(service, stores, client, clock)

    first = started()
    await said(first, "one: 70 tokens")
    await said(first, "two: 140 tokens")
    rate = await said(started(), "refused: the minute is full")
    wall.move(minutes=2)
    third = await said(started(), "three: 210 tokens")
    tokens = await said(started(), "refused: the day's tokens are spent")

    assert refused(rate).startswith("You've reached your limit of 2 messages per minute")
    assert third.status is MessageStatus.COMPLETE
    assert refused(tokens).startswith("You've reached your limit of 150 tokens per day")
