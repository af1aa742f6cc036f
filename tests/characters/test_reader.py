"""Cards are read beside the event loop: other coroutines keep running while one is read."""

from __future__ import annotations

import asyncio
import gc
import itertools
import time

import pytest

from bot.characters.errors import CardError
from bot.characters.reader import CardReader
from tests.characters import bombs, samples


def large_legal_card() -> bytes:
    """A 15 MB image in 15,000 chunks carrying a 6,000-entry lorebook: near every limit."""
    return bombs.big_legal_png(bombs.lorebook_card("Harbour", entries=6_000), image_bytes=15 << 20)


async def test_the_loop_keeps_running_while_a_large_card_is_read() -> None:
    """A ticker every millisecond keeps ticking through the read: no gap near its length.

    Time here is the process's CPU time, not the wall clock: while a busy machine has the
    process waiting for a core, neither the read nor the loop moves, and a wall-clock gap
    would blame the read for it. A gap in CPU time is work the process did while the loop
    could not tick, which is what a read holding the interpreter would show. The garbage
    collector is held off during the read: a full collection in a big test process takes
    a fifth of a second of CPU, stopping every thread, and is no step of the read.
    """
    data = large_legal_card()
    ticks: list[float] = []

    async def ticker() -> None:
        while True:
            await asyncio.sleep(0.001)
            ticks.append(time.process_time())

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)  # the ticker is measuring before the read starts
    gc.disable()
    try:
        started = time.process_time()
        imported = await CardReader().read(data, filename="harbour.png")
        finished = time.process_time()
    finally:
        gc.enable()
    ticking.cancel()
    assert imported.card.name == "Harbour"
    during = [started, *(t for t in ticks if started < t < finished), finished]
    worst = max(later - earlier for earlier, later in itertools.pairwise(during))
    assert len(during) > 10  # on the loop, the read would leave no tick inside it at all
    assert worst < (finished - started) / 2, (worst, finished - started)


async def test_a_refusal_comes_back_from_the_worker() -> None:
    """The reader's `CardError` reaches the caller unchanged."""
    with pytest.raises(CardError, match="cut short"):
        await CardReader().read(samples.png_card(chara=samples.v1_card())[:-5])


async def test_a_read_given_up_on_does_not_block_the_next() -> None:
    """A caller cancelled mid-read frees the reader once its thread is done."""
    reader = CardReader()
    abandoned = asyncio.create_task(reader.read(large_legal_card()))
    await asyncio.sleep(0)  # it has taken the reader
    abandoned.cancel()
    small = samples.png_card(chara=samples.v1_card())
    async with asyncio.timeout(30):
        assert (await reader.read(small)).card.name == "Old Tom"
    assert abandoned.cancelled()
