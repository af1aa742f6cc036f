"""Redis for the shared budgets' tests: the server at TEST_REDIS_URL (127.0.0.1:6379 by
default). When it does not answer its tests skip, unless REQUIRE_REDIS=1 (CI), which makes
them fail instead. Each test draws on a bot of its own, so runs at once never share keys.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
import redis
from redis.asyncio import Redis

from bot.fleet.bucket import budget_keys
from bot.fleet.budgets import connect

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
START_SECONDS = 10.0


def unavailable(reason: str) -> None:
    if os.environ.get("REQUIRE_REDIS") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """TEST_REDIS_URL, once it answered a PING."""
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1) as probe:
            probe.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis at TEST_REDIS_URL is unavailable: {type(exc).__name__}: {exc}")
    return REDIS_URL


@pytest.fixture
def bot() -> Iterator[str]:
    """A bot id of this test's own; its budget keys are deleted afterwards."""
    name = f"test-{secrets.token_hex(6)}"
    yield name
    with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1) as cleanup:
        for platform in ("telegram", "discord"):
            cleanup.delete(*budget_keys(platform, name))


PATIENT_SECONDS = 10.0


@pytest.fixture
async def clients(redis_url: str) -> AsyncIterator[list[Redis]]:
    """Three clients, as three processes would each have one. Patient ones: on a loaded
    machine a process may go unscheduled for longer than the bot's half-second timeout,
    and the fallback to a local bucket that follows (tested on its own) is not what these
    tests measure."""
    made = [connect(redis_url, timeout_seconds=PATIENT_SECONDS) for _ in range(3)]
    yield made
    for client in made:
        await client.aclose()


@dataclass
class OwnRedis:
    """A redis-server of the test's own, which the test may stop and start again."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        server = shutil.which("redis-server")
        assert server is not None
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with redis.Redis(port=self.port, socket_connect_timeout=0.2) as probe:
                    probe.ping()
                return
            except (redis.RedisError, OSError):
                assert time.monotonic() < deadline, "redis-server did not start"
                assert self.process.poll() is None, "redis-server exited"
                time.sleep(0.02)  # polling a server's start: there is nothing to wait on

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=START_SECONDS)
        self.process = None


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    """A redis-server on a free port (skips, or fails with REQUIRE_REDIS=1, without one)."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = OwnRedis(port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
