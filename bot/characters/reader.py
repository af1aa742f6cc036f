"""Reading card files on a worker thread, one at a time, so an import never stalls a chat.

Knows nothing of formats (`parse` does) or of who asked; only how the work is scheduled.
"""

from __future__ import annotations

import asyncio

from bot.characters.card import ImportedCard
from bot.characters.parse import read_card


class CardReader:
    """Runs `read_card` off the event loop, one file at a time.

    The readers are bounded (see `errors`), but a full-size card is still a fraction of a
    second of work, and a second of a stalled loop is a second of every channel frozen.
    One at a time bounds memory: twenty imports at once wait rather than hold twenty
    files' worth. A caller that is cancelled stops waiting, but the thread cannot be
    stopped, so the next file waits for it to finish.
    """

    def __init__(self) -> None:
        self._turn = asyncio.Semaphore(1)

    async def read(self, data: bytes, *, filename: str | None = None) -> ImportedCard:
        """The card in `data`, or the `CardError` that says what is wrong with it."""
        await self._turn.acquire()
        work = asyncio.ensure_future(asyncio.to_thread(read_card, data, filename=filename))
        work.add_done_callback(self._finished)
        return await asyncio.shield(work)

    def _finished(self, work: asyncio.Future[ImportedCard]) -> None:
        self._turn.release()
        if not work.cancelled():
            work.exception()  # marks it seen when its caller is gone: no "never retrieved" log
