"""An endpoint on 127.0.0.1 that attacks its client's memory and deadlines, one attack per server.

Every POST gets a 200 `text/event-stream` body with no length (close-delimited), written in
large pieces as fast as the client reads. For the tests and `bench/attack_memory.py`
(`python -m tests.fakes.openai.hostile --attack endless_event` prints its base URL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable

WRITE_BYTES = 64 * 1024
HUGE_DELTA_CHARS = 10_000_000
"""The content of the `huge_delta` attack's single event: ten million characters."""

Attack = Callable[[asyncio.StreamWriter], Awaitable[None]]


def event(delta: dict[str, object], *, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: %b\n\n" % json.dumps({"choices": [choice]}).encode()


async def _forever(writer: asyncio.StreamWriter, piece: bytes) -> None:
    block = piece * max(1, WRITE_BYTES // len(piece))
    while True:
        writer.write(block)
        await writer.drain()


async def endless_event(writer: asyncio.StreamWriter) -> None:
    """`data:` lines for ever, and never the blank line that would end the event."""
    await _forever(writer, b'data: {"choices":[{"index":0,"delta":{"content":"ab"}}]}\n')


async def endless_reasoning(writer: asyncio.StreamWriter) -> None:
    """Well-formed reasoning deltas for ever; the answer never starts."""
    await _forever(writer, event({"reasoning_content": "I must think about this more. " * 4}))


async def reasoning_then_answer(writer: asyncio.StreamWriter) -> None:
    """Two hundred thousand characters of reasoning, then a short answer, then [DONE]."""
    piece = event({"reasoning_content": "Let me think step by step. " * 37 + "Hmm. "})
    writer.write(piece * (200_000 // 1004 + 1))
    writer.write(event({"content": "The answer is 42."}) + event({}, finish="stop"))
    writer.write(b"data: [DONE]\n\n")
    await writer.drain()


async def huge_delta(writer: asyncio.StreamWriter) -> None:
    """One content delta of HUGE_DELTA_CHARS characters, then finish and [DONE]."""
    writer.write(event({"role": "assistant"}))
    body = event({"content": "x" * HUGE_DELTA_CHARS})
    for start in range(0, len(body), WRITE_BYTES):
        writer.write(body[start : start + WRITE_BYTES])
        await writer.drain()
    writer.write(event({}, finish="stop") + b"data: [DONE]\n\n")
    await writer.drain()


ATTACKS: dict[str, Attack] = {
    attack.__name__: attack
    for attack in (endless_event, endless_reasoning, reasoning_then_answer, huge_delta)
}


class HostileEndpoint:
    """`async with HostileEndpoint("endless_event") as endpoint:` serves at `endpoint.base_url`."""

    def __init__(self, attack: str, *, port: int = 0) -> None:
        self._attack = ATTACKS[attack]
        self.port = port
        self.hangups = 0  # bodies the client stopped reading before the attack ended
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> HostileEndpoint:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":", 1)[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                ),
                0,
            )
            await reader.readexactly(length)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
            )
            await self._attack(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.hangups += 1
        finally:
            self._writers.discard(writer)
            writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attack", required=True, choices=sorted(ATTACKS))
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args()

    async def serve() -> None:
        async with HostileEndpoint(args.attack, port=args.port) as endpoint:
            print(endpoint.base_url, flush=True)
            await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
