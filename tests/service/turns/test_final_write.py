"""The write that settles a reply: it lands under a burst of turns and after refusals."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.core.domain import ChannelKey, MessageId, MessageStatus, Role
from bot.core.errors import StorageError
from bot.service.turns.replying import FINAL_WRITE_RETRY_DELAYS_SECONDS
from bot.storage.secrets import SecretBox
from bot.storage.store import SqlStore
from tests.fakes.openai.scripted_client import reply
from tests.service.conftest import CHANNEL, Harness, build_service

BURST_TURNS = 500


async def test_a_burst_of_simultaneous_turns_is_stored_whole(harness: Harness) -> None:
    """500 turns in 500 channels of one SQLite file at once: none refused, every reply stored."""
    harness.client.scripts = [reply("Reply ", f"{n}.") for n in range(BURST_TURNS)]
    channels = [ChannelKey("test", f"room-{n}") for n in range(BURST_TURNS)]
    outcomes = await asyncio.gather(
        *(harness.say(f"hello {n}", channel=key) for n, key in enumerate(channels))
    )
    refused = [o.error_text for o in outcomes if o.status is not MessageStatus.COMPLETE]
    assert refused == []
    stored = []
    for key in channels:
        chat = (await harness.store.load_channel(key)).chat_id
        stored.extend(await harness.store.history(chat, limit=2))
    replies = [m for m in stored if m.role is Role.ASSISTANT and m.status is MessageStatus.COMPLETE]
    assert sorted(m.content for m in replies) == sorted(f"Reply {n}." for n in range(BURST_TURNS))


class RefusingStore(SqlStore):
    """The real store, refusing the first `refusals` settling writes as a locked database does."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], box: SecretBox, *, refusals: int
    ) -> None:
        super().__init__(sessions, secret_box=box)
        self.refusals = refusals

    async def finish_turn(self, message_id: MessageId, **settled: object) -> None:  # type: ignore[override]
        if self.refusals > 0:
            self.refusals -= 1
            raise StorageError("The database could not store the reply (OperationalError).")
        await super().finish_turn(message_id, **settled)  # type: ignore[arg-type]


def refusing(harness: Harness, store: RefusingStore) -> Harness:
    """The harness's service with `store` in place of its store, and no default endpoint."""
    stores = dataclasses.replace(harness.stores, store=store)
    service = build_service(stores, harness.client, harness.clock, default=None)
    return Harness(service, stores, harness.client, harness.clock)


@pytest.mark.parametrize("refusals", [1, 3, len(FINAL_WRITE_RETRY_DELAYS_SECONDS)])
async def test_a_refused_final_write_is_retried_until_it_lands(
    harness: Harness,
    sessions: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
    refusals: int,
) -> None:
    """The reply the chat saw is stored complete although the database refused it at first."""
    store = RefusingStore(sessions, secret_box, refusals=refusals)
    harness = refusing(harness, store)
    await harness.command("connect", base_url="http://operator.example/v1", model="m")
    harness.client.scripts.append(reply("Kept ", "after all."))
    outcome = await harness.say("hello")
    assert outcome.status is MessageStatus.COMPLETE
    chat = (await store.load_channel(CHANNEL)).chat_id
    last = (await store.history(chat, limit=1))[-1]
    assert (last.status, last.content) == (MessageStatus.COMPLETE, "Kept after all.")


async def test_a_write_refused_past_every_retry_is_logged_and_left_pending(
    harness: Harness,
    sessions: async_sessionmaker[AsyncSession],
    secret_box: SecretBox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Retrying is bounded: the turn ends, the log says why, the next start settles the row."""
    refusals = len(FINAL_WRITE_RETRY_DELAYS_SECONDS) + 1
    store = RefusingStore(sessions, secret_box, refusals=refusals)
    harness = refusing(harness, store)
    await harness.command("connect", base_url="http://operator.example/v1", model="m")
    harness.client.scripts.append(reply("Lost ", "for now."))
    with caplog.at_level(logging.WARNING, logger="bot.service.turns.replying"):
        await harness.say("hello")
    assert "gave up retrying" in caplog.text
    chat = (await store.load_channel(CHANNEL)).chat_id
    assert (await store.history(chat, limit=1))[-1].status is MessageStatus.PENDING
