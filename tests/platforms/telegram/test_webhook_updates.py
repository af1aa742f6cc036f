"""What a webhook worker does with a posted update (PTB parses it, the Application's queue
gets it) and when it calls setWebhook (only when Telegram's webhook is not already ours)."""

from __future__ import annotations

import asyncio

import pytest
from telegram import Bot, Update, WebhookInfo

from bot.core.errors import StorageError
from bot.core.shared_state import MemorySharedState
from bot.platforms.telegram.webhook import claiming, needs_setting, queue_updates

URL = "https://bot.example.org/telegram"
BOT = Bot("123456:not-a-real-token")  # never sends: parsing only
KINDS = ["message", "edited_message", "callback_query"]
MESSAGE = {
    "message_id": 3,
    "date": 1_760_000_000,
    "chat": {"id": 5001, "type": "private", "first_name": "Ann"},
    "from": {"id": 5001, "is_bot": False, "first_name": "Ann"},
    "text": "hello",
}


async def test_an_update_is_parsed_and_queued() -> None:
    """The listener's JSON object becomes PTB's Update, waiting in the Application's queue."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    queue_updates(BOT, queue)({"update_id": 42, "message": MESSAGE})
    update = queue.get_nowait()
    assert isinstance(update, Update)
    assert update.update_id == 42
    assert update.effective_message is not None
    assert update.effective_message.text == "hello"


async def test_an_update_claimed_already_is_dropped() -> None:
    """With a claim, an update id is queued once: its copy (Telegram's retry) is dropped,
    the next update goes through, and another bot's same update id is its own."""
    state = MemorySharedState()
    queue: asyncio.Queue[object] = asyncio.Queue()
    take = queue_updates(BOT, queue, claim=claiming(state, 123456))
    other_bot = queue_updates(BOT, queue, claim=claiming(state, 654321))
    for update_id, sink in ((42, take), (42, take), (43, take), (42, other_bot)):
        sink({"update_id": update_id, "message": MESSAGE})
    queued = [await asyncio.wait_for(queue.get(), 5) for _ in range(3)]

    assert sorted(u.update_id for u in queued if isinstance(u, Update)) == [42, 42, 43]
    # each sink queues in the order posted: its copy was dropped before its 43 got in
    assert queue.empty()


async def test_updates_are_queued_in_the_order_posted_however_their_claims_end() -> None:
    """A slow claim (a busy database) holds back the updates posted after it: a chat's
    second message never overtakes its first."""
    slow = asyncio.Event()

    async def claim(update_id: int) -> bool:
        if update_id == 42:
            await slow.wait()
        return True

    queue: asyncio.Queue[object] = asyncio.Queue()
    take = queue_updates(BOT, queue, claim=claim)
    take({"update_id": 42, "message": MESSAGE})
    take({"update_id": 43, "message": MESSAGE})
    await asyncio.sleep(0)  # let both claims start; 43's is granted at once
    assert queue.empty(), "43 waits for 42"
    slow.set()
    queued = [await asyncio.wait_for(queue.get(), 5) for _ in range(2)]

    assert [u.update_id for u in queued if isinstance(u, Update)] == [42, 43]


async def test_an_update_the_database_cannot_claim_is_handled() -> None:
    """A claim that fails (database down) lets the update through: answered, not lost."""

    async def failing(update_id: int) -> bool:
        raise StorageError("database unreachable")

    queue: asyncio.Queue[object] = asyncio.Queue()
    queue_updates(BOT, queue, claim=failing)({"update_id": 42, "message": MESSAGE})
    update = await asyncio.wait_for(queue.get(), 5)
    assert isinstance(update, Update)
    assert update.update_id == 42


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"update_id": "7"},
        {"update_id": 7, "message": "text"},
        {"update_id": 7, "message": {"chat": 5}},
    ],
    ids=["empty", "id-not-a-number", "message-not-an-object", "message-missing-fields"],
)
async def test_what_is_not_an_update_is_refused(body: dict[str, object]) -> None:
    """ValueError (the listener's 400), and nothing queued."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    with pytest.raises(ValueError, match="update"):
        queue_updates(BOT, queue)(body)
    assert queue.empty()


def info(url: str = URL, kinds: list[str] | None = None, error: str | None = None) -> WebhookInfo:
    return WebhookInfo(
        url=url,
        has_custom_certificate=False,
        pending_update_count=0,
        allowed_updates=KINDS if kinds is None else kinds,
        last_error_message=error,
    )


def test_our_webhook_is_not_set_again() -> None:
    assert not needs_setting(info(), URL, KINDS)
    assert not needs_setting(info(kinds=list(reversed(KINDS))), URL, KINDS), "order is no matter"


@pytest.mark.parametrize(
    "current",
    [
        info(url=""),
        info(url="https://old.example.org/telegram"),
        info(kinds=["message"]),
        info(error="Wrong response from the webhook: 403 Forbidden"),
    ],
    ids=["none", "another-url", "other-kinds", "refused-by-us"],
)
def test_a_webhook_that_is_not_ours_is_set(current: WebhookInfo) -> None:
    """None, another URL, other kinds, or our listener refusing Telegram's secret."""
    assert needs_setting(current, URL, KINDS)


def test_other_delivery_errors_do_not_reset_it() -> None:
    """A worker that was down (connection refused) is not a reason to call setWebhook."""
    assert not needs_setting(info(error="Connection refused"), URL, KINDS)
