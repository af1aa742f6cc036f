"""Waiting for a change in a fake platform server, from its own loop or from another thread.

A test waits for a condition instead of sleeping; knows nothing of what the condition is about.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class ChangeSignal:
    """Wakes every waiter on each change: asyncio ones in the owning loop, and threads.

    In the loop, each change sets the current generation's event and starts a new one, so
    a waiter that took `generation()` before checking its condition cannot miss a change that
    lands between the check and the wait. Threads wait on a Condition over `lock`, which
    state changes are made under, so their checks see a consistent state.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._condition = threading.Condition(self.lock)
        self._event: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None

    def attach(self) -> None:
        """Bind to the running loop: the one the server answers in."""
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        self._event = asyncio.Event()

    def detach(self) -> None:
        self.notify()
        self._loop = None

    def generation(self) -> asyncio.Event:
        """The event the next change sets (only in the attached loop)."""
        assert self._event is not None, "attach() first"
        return self._event

    def notify(self) -> None:
        """A change happened; callable from any thread."""
        with self._condition:
            self._condition.notify_all()
        loop = self._loop
        if loop is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._next_generation()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._next_generation)

    async def wait_for(self, predicate: Callable[[], T], within: float) -> T:
        """The predicate's first truthy value; TimeoutError after `within` seconds.

        From a loop other than the attached one, waits in a worker thread.
        """
        if self._loop is not asyncio.get_running_loop():
            return await asyncio.to_thread(self.wait_for_sync, predicate, within)
        async with asyncio.timeout(within):
            while True:
                changed = self.generation()
                with self.lock:
                    value = predicate()
                if value:
                    return value
                await changed.wait()

    def wait_for_sync(self, predicate: Callable[[], T], within: float) -> T:
        """wait_for for another thread; called in the attached loop's thread it would hang."""
        deadline = time.monotonic() + within
        with self._condition:
            while not (value := predicate()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self._condition.wait(left)
            return value

    def _next_generation(self) -> None:
        changed, self._event = self._event, asyncio.Event()
        if changed is not None:
            changed.set()


class WaitsForChange:
    """`wait_for` and `wait_for_sync` for a fake that notifies `_signal` on every change;
    a timeout names the fake's last calls, which is usually what explains it."""

    _signal: ChangeSignal

    def _recent_calls(self) -> list[str]:
        """The last few calls the fake answered, as "what:status"."""
        raise NotImplementedError

    async def wait_for(
        self,
        predicate: Callable[[], T],
        timeout: float = 10.0,  # noqa: ASYNC109 - a test states its patience in one argument
    ) -> T:
        """The predicate's first truthy value, re-checked after every change.

        From a loop other than the fake's (the fake in_thread), waits in a worker thread.
        """
        try:
            return await self._signal.wait_for(predicate, timeout)
        except TimeoutError:
            raise TimeoutError(self._timeout_message(timeout)) from None

    def wait_for_sync(self, predicate: Callable[[], T], timeout: float = 10.0) -> T:
        """wait_for for a thread other than the fake's (blocking the fake's own loop would hang)."""
        try:
            return self._signal.wait_for_sync(predicate, timeout)
        except TimeoutError:
            raise TimeoutError(self._timeout_message(timeout)) from None

    def _timeout_message(self, timeout: float) -> str:
        with self._signal.lock:
            recent = ", ".join(self._recent_calls())
        return f"condition not met within {timeout} s; last calls: {recent or 'none'}"
