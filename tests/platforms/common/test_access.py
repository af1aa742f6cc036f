"""The operator's access policy and the window between notices to a refused person."""

from __future__ import annotations

import pytest

from bot.platforms.common.access import (
    EVERYONE,
    AccessGate,
    AccessPolicy,
    RefusalNotices,
    Refused,
    Wording,
)

ALICE, BOB, OPERATOR = 11, 12, 99
SERVER, OTHER_SERVER = 500, 501
GROUP, OTHER_GROUP = -1001234567890, -1009876543210


class ManualClock:
    """Time that moves only when the test sets it; nothing here sleeps."""

    def __init__(self) -> None:
        self.time = 0.0

    def now(self) -> float:
        return self.time

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("the notices never sleep")


def test_the_default_policy_admits_everyone_everywhere() -> None:
    """No settings: every user, place and private chat is admitted."""
    for place, private in ((SERVER, False), (GROUP, False), (None, True), (ALICE, True)):
        assert EVERYONE.refusal(ALICE, place, private=private) is None


def test_an_allowed_places_list_admits_only_those_places() -> None:
    """A non-empty allow list refuses every other place, with a text naming the place."""
    policy = AccessPolicy(allowed_places=frozenset({SERVER}))
    assert policy.refusal(ALICE, SERVER, private=False) is None
    refusal = policy.refusal(ALICE, OTHER_SERVER, private=False, wording=Wording(place="server"))
    assert refusal is not None
    assert refusal.reason is Refused.PLACE
    assert refusal.text == (
        "This bot isn't available in this server; its operator decides where it runs."
    )


def test_negative_telegram_group_ids_are_places_like_any_other() -> None:
    """Telegram's supergroup ids (-100…) are matched exactly, in allow and block lists."""
    allowed = AccessPolicy(allowed_places=frozenset({GROUP}))
    assert allowed.refusal(ALICE, GROUP, private=False) is None
    assert allowed.reason(ALICE, OTHER_GROUP, private=False) is Refused.PLACE
    assert allowed.reason(ALICE, -GROUP, private=False) is Refused.PLACE
    blocked = AccessPolicy(blocked_places=frozenset({GROUP}))
    assert blocked.reason(ALICE, GROUP, private=False) is Refused.PLACE
    assert blocked.refusal(ALICE, OTHER_GROUP, private=False) is None


def test_a_blocked_place_is_refused_even_when_it_is_also_allowed() -> None:
    """The block list wins over the allow list."""
    policy = AccessPolicy(allowed_places=frozenset({SERVER}), blocked_places=frozenset({SERVER}))
    assert policy.reason(ALICE, SERVER, private=False) is Refused.PLACE


def test_a_blocked_user_is_refused_even_when_also_allowed_and_in_an_allowed_place() -> None:
    """A user on both user lists is refused, wherever they write."""
    policy = AccessPolicy(
        allowed_places=frozenset({SERVER}),
        allowed_users=frozenset({ALICE}),
        blocked_users=frozenset({ALICE}),
    )
    refusal = policy.refusal(ALICE, SERVER, private=False)
    assert refusal is not None
    assert refusal.reason is Refused.USER
    assert "operator decides who may use it" in refusal.text
    assert policy.reason(ALICE, None, private=True) is Refused.USER


def test_an_allowed_users_list_admits_only_those_users() -> None:
    """Other users are refused in every place, private chats included."""
    policy = AccessPolicy(allowed_users=frozenset({ALICE}))
    assert policy.refusal(ALICE, SERVER, private=False) is None
    assert policy.reason(BOB, SERVER, private=False) is Refused.USER
    assert policy.reason(BOB, None, private=True) is Refused.USER


def test_an_allowed_user_is_still_refused_in_a_blocked_place() -> None:
    """Being allowed does not open a place the operator blocked."""
    policy = AccessPolicy(allowed_users=frozenset({ALICE}), blocked_places=frozenset({SERVER}))
    assert policy.reason(ALICE, SERVER, private=False) is Refused.PLACE


def test_with_private_chats_off_only_shared_places_are_admitted() -> None:
    """The private switch refuses a DM (no place) and a Telegram private chat (its id is
    the user's), and says where to talk instead."""
    policy = AccessPolicy(private_chats=False)
    for place in (None, ALICE):
        refusal = policy.refusal(ALICE, place, private=True)
        assert refusal is not None
        assert refusal.reason is Refused.PRIVATE
        assert "talk to it in a group" in refusal.text
    assert policy.refusal(ALICE, GROUP, private=False) is None


def test_the_platforms_wording_names_its_private_chats() -> None:
    """A platform supplies its own words for the private refusal."""
    words = Wording(place="server", private="Direct messages are off.")
    refusal = AccessPolicy(private_chats=False).refusal(ALICE, None, private=True, wording=words)
    assert refusal is not None
    assert refusal.text == "Direct messages are off."


def test_telegram_private_chats_are_places_for_the_chat_lists() -> None:
    """A private chat's id is its user's: a chat allow list without it refuses it, one
    with it admits it."""
    only_group = AccessPolicy(allowed_places=frozenset({GROUP}))
    assert only_group.reason(ALICE, ALICE, private=True) is Refused.PLACE
    with_alice = AccessPolicy(allowed_places=frozenset({GROUP, ALICE}))
    assert with_alice.refusal(ALICE, ALICE, private=True) is None


def test_a_blocked_user_is_told_so_before_the_place_or_the_private_switch() -> None:
    """The user's own block is the first reason given."""
    policy = AccessPolicy(
        blocked_users=frozenset({ALICE}), blocked_places=frozenset({SERVER}), private_chats=False
    )
    assert policy.reason(ALICE, SERVER, private=False) is Refused.USER
    assert policy.reason(ALICE, None, private=True) is Refused.USER
    assert policy.reason(BOB, None, private=True) is Refused.PRIVATE


@pytest.mark.parametrize("place", [SERVER, GROUP, None])
def test_operators_are_never_refused(place: int | None) -> None:
    """Blocked, not allowed, in a blocked place, in a private chat that is off: admitted."""
    policy = AccessPolicy(
        allowed_places=frozenset({OTHER_SERVER}),
        blocked_places=frozenset({SERVER, GROUP}),
        allowed_users=frozenset({ALICE}),
        blocked_users=frozenset({OPERATOR}),
        private_chats=False,
        operators=frozenset({OPERATOR}),
    )
    assert policy.refusal(OPERATOR, place, private=place is None) is None
    assert policy.refusal(BOB, place, private=place is None) is not None


def test_a_refused_person_is_told_once_per_window_for_each_reason() -> None:
    """A second notice within the window is withheld; another reason or user is told; once
    the window has passed, the user is told again."""
    clock = ManualClock()
    notices = RefusalNotices(clock, 600.0)
    assert notices.due(ALICE, Refused.USER)
    assert not notices.due(ALICE, Refused.USER)
    assert notices.due(ALICE, Refused.PRIVATE)
    assert notices.due(BOB, Refused.USER)
    clock.time = 599.9
    assert not notices.due(ALICE, Refused.USER)
    clock.time = 600.0
    assert notices.due(ALICE, Refused.USER)
    assert not notices.due(ALICE, Refused.USER)


def test_a_window_of_zero_tells_every_time() -> None:
    """ACCESS_NOTICE_SECONDS=0: every refusal is answered."""
    notices = RefusalNotices(ManualClock(), 0.0)
    assert all(notices.due(ALICE, Refused.USER) for _ in range(3))


def test_the_notices_remembered_are_bounded() -> None:
    """A flood of strangers keeps at most `capacity` entries; the oldest are forgotten."""
    notices = RefusalNotices(ManualClock(), 600.0, capacity=100)
    for user in range(1000):
        assert notices.due(user, Refused.PLACE)
    assert len(notices) == 100
    assert not notices.due(999, Refused.PLACE)
    assert notices.due(0, Refused.PLACE), "the oldest was forgotten"


def test_expired_notices_are_forgotten() -> None:
    """Entries older than the window do not accumulate."""
    clock = ManualClock()
    notices = RefusalNotices(clock, 10.0)
    for user in range(50):
        notices.due(user, Refused.USER)
    clock.time = 11.0
    notices.due(ALICE, Refused.USER)
    assert len(notices) == 1


def test_the_gate_says_the_text_once_and_then_nothing() -> None:
    """An adapter's gate: the refusal in its words, and its notice once per window."""
    gate = AccessGate(
        AccessPolicy(blocked_users=frozenset({ALICE}), notice_seconds=60.0),
        ManualClock(),
        wording=Wording(place="server"),
    )
    refusal = gate.refusal(ALICE, SERVER, private=False)
    assert refusal is not None
    assert gate.notice(ALICE, refusal) == refusal.text
    assert gate.notice(ALICE, refusal) is None
    assert gate.refusal(BOB, SERVER, private=False) is None
