"""The real clock behind the Clock port (core/ports.py): monotonic time and asyncio's sleep.

Tests inject a virtual clock instead; nothing else here.
"""

from __future__ import annotations

import asyncio
import time


class SystemClock:
    """The real monotonic clock (ports.Clock)."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))
