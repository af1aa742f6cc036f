"""The fake OpenAI server (tests/fakes/openai/server.py) noting when each chat request reaches it.

For bench/turn_latency.py, run as `python bench/arrival_endpoint.py` (prints its base URL). Each
chat request's arrival, `time.monotonic()` once its head and body are read, is kept; `GET
/arrivals` answers and forgets them, with how many tokenizer requests came meanwhile. On
Linux `time.monotonic()` is CLOCK_MONOTONIC, one clock for every process of the machine, so
the bot can subtract its own reading from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fakes.openai.server import FakeOpenAI, _Exchange


class ArrivalEndpoint(FakeOpenAI):
    def __init__(self) -> None:
        super().__init__(port=0)
        self.default_scenario = "count"
        self.arrivals: list[float] = []
        self.tokenizes = 0

    async def _answer(self, reader: asyncio.StreamReader, ex: _Exchange) -> None:
        arrived = time.monotonic()
        path = ex.request.path
        if path == "/arrivals":
            seen = {"arrivals": self.arrivals, "tokenizes": self.tokenizes}
            self.arrivals, self.tokenizes = [], 0
            return await ex.respond(200, json.dumps(seen).encode())
        if path.endswith("/chat/completions"):
            self.arrivals.append(arrived)
        elif path == "/tokenize":
            self.tokenizes += 1
        return await super()._answer(reader, ex)


def main() -> None:
    async def serve() -> None:
        async with ArrivalEndpoint() as fake:
            print(fake.base_url, flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
