"""A virtual clock (ports.Clock) for tests: time moves only when the test, or idleness, says so.

Never sleeps for real; knows nothing of what it is driving.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import datetime, timedelta

_MAX_SETTLE_ROUNDS = 10_000
DEFAULT_HORIZON_SECONDS = 1_000_000.0


class FakeClock:
    """Virtual monotonic time; `sleep` suspends until virtual time reaches the wake-up.

    Two ways to drive it, both deterministic and free of real sleeps:

    - manual (`FakeClock()`): `await clock.advance(2.5)` wakes every sleeper due within
      the next 2.5 virtual seconds, earliest first, letting the event loop settle after
      each one; `await clock.settle()` runs every ready task until all are blocked.
      Code under test must run in tasks, since the test's own coroutine does the advancing.
    - auto (`FakeClock(auto=True)`): whenever every task is blocked, virtual time jumps to
      the earliest sleeper and wakes it, so a test just awaits the code under test (and
      may `await clock.sleep(s)` itself to let s virtual seconds pass). Blocked means
      nothing is ready to run: a task waiting on real I/O counts as blocked, so use auto
      mode only where nothing waits on sockets or threads.

    "Settled" is read from the event loop's ready queue (`loop._ready`, CPython's asyncio);
    a task that never blocks makes `settle` raise instead of hanging, and in auto mode a
    sleeper due past `horizon` virtual seconds gets RuntimeError instead of waking.
    """

    def __init__(
        self, start: float = 0.0, *, auto: bool = False, horizon: float = DEFAULT_HORIZON_SECONDS
    ) -> None:
        self._now = start
        self._auto = auto
        self._horizon = start + horizon
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._settle_waiters: list[asyncio.Future[None]] = []
        self._driver: asyncio.Task[None] | None = None

    def now(self) -> float:
        return self._now

    @property
    def sleepers(self) -> int:
        """How many tasks are asleep on this clock."""
        return sum(1 for _, _, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        """Wait `seconds` of virtual time; zero or less only yields to the loop once."""
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + seconds, next(self._order), future))
        self._ensure_driver()
        await future

    async def settle(self) -> None:
        """Return once every task is blocked (on this clock, an event, a future …)."""
        if not self._auto:
            await _until_idle()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._settle_waiters.append(waiter)
        self._ensure_driver()
        await waiter

    async def advance(self, seconds: float) -> None:
        """Manual mode: let `seconds` of virtual time pass, waking sleepers in order."""
        if self._auto:
            raise RuntimeError("an auto clock advances itself; await clock.sleep() instead")
        target = self._now + seconds
        await _until_idle()
        while self._sleepers and self._sleepers[0][0] <= target:
            self._wake_earliest()
            await _until_idle()
        self._now = max(self._now, target)
        await _until_idle()

    def _wake_earliest(self) -> None:
        wake_at, _, future = heapq.heappop(self._sleepers)
        if future.done():  # its task was cancelled
            return
        self._now = max(self._now, wake_at)
        future.set_result(None)

    def _ensure_driver(self) -> None:
        if self._auto and (self._driver is None or self._driver.done()):
            self._driver = asyncio.get_running_loop().create_task(
                self._drive(), name="fake-clock-driver"
            )

    async def _drive(self) -> None:
        """Auto mode: at each idle point release settle() waiters, else jump to a sleeper."""
        while True:
            await _until_idle()
            if self._settle_waiters:
                waiters, self._settle_waiters = self._settle_waiters, []
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                continue
            while self._sleepers and self._sleepers[0][2].done():
                heapq.heappop(self._sleepers)
            if not self._sleepers:
                return
            if self._sleepers[0][0] > self._horizon:
                _, _, future = heapq.heappop(self._sleepers)
                future.set_exception(RuntimeError("virtual time ran past the clock's horizon"))
                continue
            self._wake_earliest()


async def _until_idle() -> None:
    loop = asyncio.get_running_loop()
    for _ in range(_MAX_SETTLE_ROUNDS):
        await asyncio.sleep(0)
        if not getattr(loop, "_ready", ()):
            return
    raise RuntimeError("the event loop never went idle: is a task spinning?")


class FakeWallClock:
    """A wall clock (`Callable[[], datetime]`, as the service and the shared state take)
    that stands still until the test moves it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
