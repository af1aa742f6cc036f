"""CPU per streamed token: our client against a bare httpx reader and the openai SDK.

The fake server runs in its own process (pinned to another CPU when there is one), so only the
client's CPU is measured. Every token is one SSE event in its own HTTP chunk: the worst case.
Run `python bench/stream_cpu.py` from the repository root; it rewrites the table in bench/README.md
and in the project's README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from endpoints import endpoint_process  # noqa: E402  (beside this script)
from readme_tables import write_table  # noqa: E402

from bot.core.domain import ChatMessage, CompletionRequest, Connection, Role, SamplingParams  # noqa: E402
from bot.llm import wire  # noqa: E402
from bot.llm.client import OpenAICompatClient, build_http_client  # noqa: E402
from bot.llm.deadline import StreamTimeouts  # noqa: E402
from bot.llm.sse import SSEDecoder  # noqa: E402

READMES = (ROOT / "bench" / "README.md", ROOT / "README.md")
MODEL = "scenario/count"
PROMPT = [{"role": "user", "content": "Count."}]

Reader = Callable[[str, int], Awaitable[int]]


async def main(streams: int, tokens: int, rounds: int) -> dict[str, list[tuple[float, float]]]:
    timeouts = StreamTimeouts()
    async with build_http_client(timeouts) as http:
        ours = OpenAICompatClient(http, timeouts=timeouts)

        async def parlor(base_url: str, count: int) -> int:
            request = CompletionRequest(
                connection=Connection(base_url=base_url, api_key=None),
                model=MODEL,
                messages=(ChatMessage(Role.USER, "Count."),),
                params=SamplingParams(max_tokens=count),
            )
            return len([delta async for delta in ours.stream(request) if delta.content])

        async def bare_httpx(base_url: str, count: int) -> int:
            body = {"model": MODEL, "messages": PROMPT, "stream": True, "max_tokens": count}
            received = 0
            async with http.stream("POST", f"{base_url}/chat/completions", json=body) as response:
                async for line in response.aiter_lines():
                    if not line.startswith("data: "):
                        continue
                    data = line[6:]
                    if data == "[DONE]":
                        break
                    choices = json.loads(data).get("choices")
                    if choices and choices[0]["delta"].get("content"):
                        received += 1
            return received

        async def raw_floor(base_url: str, count: int) -> int:
            """httpx alone, no parsing: the floor every httpx-based client stands on."""
            body = {"model": MODEL, "messages": PROMPT, "stream": True, "max_tokens": count}
            received = 0
            async with http.stream("POST", f"{base_url}/chat/completions", json=body) as response:
                async for chunk in response.aiter_raw():
                    received += chunk.count(b" t0")
            return received

        from openai import AsyncOpenAI

        sdk = AsyncOpenAI(base_url="http://127.0.0.1:1/v1", api_key="sk-bench", max_retries=0)

        async def openai_sdk(base_url: str, count: int) -> int:
            client = sdk.with_options(base_url=base_url)
            stream = await client.chat.completions.create(
                model=MODEL,
                messages=PROMPT,
                stream=True,
                max_tokens=count,
            )
            return len([c async for c in stream if c.choices and c.choices[0].delta.content])

        readers: dict[str, Reader] = {
            "Parlor OpenAICompatClient": parlor,
            "bare httpx aiter_lines + json.loads": bare_httpx,
            f"openai {version('openai')} AsyncOpenAI": openai_sdk,
            "httpx aiter_raw, no parsing (floor)": raw_floor,
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in readers}
        with endpoint_process("tests.fakes.openai.server", "--port", "0") as endpoint:
            base_url = endpoint.base_url
            cpus = sorted(os.sched_getaffinity(0))
            if len(cpus) >= 2:  # keep the server's CPU out of the client's way
                os.sched_setaffinity(endpoint.pid, {cpus[-1]})
                os.sched_setaffinity(0, {cpus[0]})
            for reader in readers.values():  # warm-up: imports, connections, caches
                await run(reader, base_url, streams, 50)
            for _ in range(rounds):
                for name, reader in readers.items():
                    results[name].append(await run(reader, base_url, streams, tokens))
        await sdk.close()
    return results


async def run(reader: Reader, base_url: str, streams: int, tokens: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) for `streams` concurrent streams of `tokens` tokens."""
    cpu, wall = time.process_time(), time.perf_counter()
    counts = await asyncio.gather(*(reader(base_url, tokens) for _ in range(streams)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if counts != [tokens] * streams:
        raise RuntimeError(f"expected {tokens} tokens per stream, got {counts}")
    return cpu, wall


def table(
    results: dict[str, list[tuple[float, float]]], streams: int, tokens: int, parsing: str
) -> str:
    total = streams * tokens
    baseline = min(cpu for cpu, _ in results["bare httpx aiter_lines + json.loads"])
    rows = [
        "| client | µs CPU per token | vs bare httpx | tokens/s |",
        "|---|---:|---:|---:|",
    ]
    for name, runs in results.items():
        cpu = min(c for c, _ in runs)
        wall = min(w for _, w in runs)
        rows.append(
            f"| {name} | {cpu / total * 1e6:.1f} | {cpu / baseline:.2f} | {total / wall:,.0f} |"
        )
    versions = ", ".join(f"{p} {version(p)}" for p in ("httpx", "httpcore", "h11", "openai"))
    return "\n".join(
        [
            *rows,
            "",
            parsing,
            "",
            f"{streams} concurrent streams of {tokens} tokens, one SSE event per HTTP chunk, "
            f"best of {len(next(iter(results.values())))} interleaved rounds (the machine may be "
            "shared); client CPU from `time.process_time()`, the fake server in its own process "
            "on another CPU.",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}; "
            f"Python {platform.python_version()}; {versions}.",
        ]
    )


def parse_table(events: int = 2000, trials: int = 50) -> str:
    """The parsing layer alone, in memory: no socket, no httpx, so no noise from them."""
    chunks = [
        b"data: %b\n\n"
        % json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1700000000,
                "model": "gpt-4o-mini",
                "choices": [
                    {"index": 0, "delta": {"content": f" t{i:06d}"}, "finish_reason": None}
                ],
            }
        ).encode()
        for i in range(events)
    ]

    def ours() -> None:
        decoder, reader = SSEDecoder(), wire.ChunkReader()
        for chunk in chunks:
            for event in decoder.feed(chunk):
                reader.read(event.data)

    def bare() -> None:
        tail = ""
        for chunk in chunks:
            *lines, tail = (tail + chunk.decode()).split("\n")
            for line in lines:
                if line.startswith("data: "):
                    choices = json.loads(line[6:]).get("choices")
                    if choices:
                        choices[0]["delta"].get("content")

    rows = ["| parser (in memory) | µs CPU per event |", "|---|---:|"]
    for name, parse in (("SSEDecoder + ChunkReader -> Delta", ours), ("split + json.loads", bare)):
        best = float("inf")
        for _ in range(trials):
            cpu = time.process_time()
            parse()
            best = min(best, time.process_time() - cpu)
        rows.append(f"| {name} | {best / events * 1e6:.2f} |")
    return "\n".join(rows)


def write_readme(text: str) -> None:
    """Both the benchmark notes and the project's front page show the latest table."""
    for path in READMES:
        write_table(path, "stream_cpu", text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--tokens", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-write", action="store_true", help="print only; leave README.md")
    args = parser.parse_args()
    results = asyncio.run(main(args.streams, args.tokens, args.rounds))
    output = table(results, args.streams, args.tokens, parse_table())
    print(output)
    if not args.no_write:
        write_readme(output)
