"""GuardedFetcher over real loopback HTTP, against a tiny file server and the real guard."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from bot.errors import EndpointNotAllowed, UsageError
from bot.llm.deadline import StreamTimeouts
from bot.llm.fetch import GuardedFetcher
from bot.llm.guard import REFUSAL_MESSAGE, EndpointPolicy, build_guarded_http_client

TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=5.0, idle_seconds=5.0, total_seconds=10.0
)
CARD = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
Route = bytes | Callable[[asyncio.StreamWriter], Awaitable[None]]


def ok(body: bytes) -> bytes:
    head = f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(body)}\r\n"
    return (head + "Connection: close\r\n\r\n").encode() + body


def status(code: int, *, location: str | None = None) -> bytes:
    head = f"HTTP/1.1 {code} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n"
    return (head + (f"Location: {location}\r\n" if location else "") + "\r\n").encode()


async def endless_chunks(writer: asyncio.StreamWriter) -> None:
    """A chunked body that declares no size and never ends."""
    writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
    while True:
        writer.write(b"%x\r\n%b\r\n" % (400, b"x" * 400))
        await writer.drain()
        await asyncio.sleep(0.001)


async def hang(writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(3600)


class FileServer:
    """A loopback HTTP server answering each path with a fixed route; records request heads."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.heads: list[str] = []
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> FileServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port: int = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def paths(self) -> list[str]:
        return [head.split(" ")[1] for head in self.heads]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            self.heads.append(head)
            route = self.routes.get(head.split(" ")[1].partition("?")[0], status(404))
            if isinstance(route, bytes):
                writer.write(route)
                await writer.drain()
            else:
                await route(writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()


@pytest.fixture
async def files() -> AsyncIterator[FileServer]:
    async with FileServer() as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    """The guarded client with private endpoints allowed, so it may reach the loopback server."""
    async with build_guarded_http_client(EndpointPolicy(allow_private=True), TIMEOUTS) as client:
        yield client


@pytest.fixture
def fetcher(http: httpx.AsyncClient) -> GuardedFetcher:
    return GuardedFetcher(http)


async def test_downloads_a_file(fetcher: GuardedFetcher, files: FileServer) -> None:
    """The body comes back whole."""
    files.routes["/card.png"] = ok(CARD)
    assert await fetcher.fetch(files.url("/card.png"), max_bytes=len(CARD)) == CARD


async def test_declared_size_over_the_limit_is_refused_before_reading(
    fetcher: GuardedFetcher, files: FileServer
) -> None:
    """A Content-Length past max_bytes is refused at once, naming the limit in MB."""
    head = "HTTP/1.1 200 OK\r\nContent-Length: 31457280\r\nConnection: close\r\n\r\n"
    files.routes["/big.png"] = head.encode()  # no body follows: it must not be waited for
    with pytest.raises(UsageError, match=r"^couldn't download the card: it is larger than 20 MB$"):
        await fetcher.fetch(files.url("/big.png"), max_bytes=20 * 1024 * 1024)


async def test_body_over_the_limit_is_refused(fetcher: GuardedFetcher, files: FileServer) -> None:
    """A body one byte over max_bytes, with an honest Content-Length, is refused."""
    files.routes["/card.png"] = ok(CARD)
    with pytest.raises(UsageError, match="it is larger than"):
        await fetcher.fetch(files.url("/card.png"), max_bytes=len(CARD) - 1)


async def test_endless_chunked_body_is_cut_off(fetcher: GuardedFetcher, files: FileServer) -> None:
    """A chunked body declares no size: reading stops once it passes max_bytes."""
    files.routes["/endless"] = endless_chunks
    async with asyncio.timeout(5):
        with pytest.raises(UsageError, match="it is larger than 2 KB"):
            await fetcher.fetch(files.url("/endless"), max_bytes=2048)


async def test_three_redirects_are_followed(fetcher: GuardedFetcher, files: FileServer) -> None:
    """Absolute and relative Locations, 301/302/307/308, up to three hops."""
    files.routes["/a"] = status(301, location=files.url("/b"))
    files.routes["/b"] = status(307, location="/c")
    files.routes["/c"] = status(308, location="d")
    files.routes["/d"] = ok(CARD)
    assert await fetcher.fetch(files.url("/a"), max_bytes=len(CARD)) == CARD
    assert files.paths() == ["/a", "/b", "/c", "/d"]


async def test_a_fourth_redirect_is_refused(fetcher: GuardedFetcher, files: FileServer) -> None:
    """The fourth redirect is not followed."""
    for here, there in zip("abcd", "bcde", strict=True):
        files.routes[f"/{here}"] = status(302, location=f"/{there}")
    files.routes["/e"] = ok(CARD)
    with pytest.raises(UsageError, match="redirects more than 3 times"):
        await fetcher.fetch(files.url("/a"), max_bytes=len(CARD))
    assert files.paths() == ["/a", "/b", "/c", "/d"]


@pytest.mark.parametrize("target", ["http://10.0.0.1:8080/card.png", "http://169.254.169.254/"])
async def test_redirect_to_a_private_address_is_refused_by_the_guard(
    files: FileServer, target: str
) -> None:
    """With private endpoints not allowed, a redirect cannot reach into the network."""
    policy = EndpointPolicy(allowed_hosts=frozenset({("127.0.0.1", files.port)}))
    files.routes["/card.png"] = status(302, location=target)
    async with build_guarded_http_client(policy, TIMEOUTS) as strict:
        with pytest.raises(EndpointNotAllowed) as refused:
            await GuardedFetcher(strict).fetch(files.url("/card.png"), max_bytes=len(CARD))
    assert str(refused.value) == REFUSAL_MESSAGE


async def test_private_link_is_refused_by_the_guard(files: FileServer) -> None:
    """The first link goes through the guard too; the server never sees a connection."""
    files.routes["/card.png"] = ok(CARD)
    async with build_guarded_http_client(EndpointPolicy(), TIMEOUTS) as strict:
        with pytest.raises(EndpointNotAllowed):
            await GuardedFetcher(strict).fetch(files.url("/card.png"), max_bytes=len(CARD))
    assert files.heads == []


async def test_error_status_is_named(fetcher: GuardedFetcher, files: FileServer) -> None:
    """A 404 says so."""
    with pytest.raises(UsageError, match=r"^couldn't download the card: the server answered 404$"):
        await fetcher.fetch(files.url("/missing.png"), max_bytes=len(CARD))


@pytest.mark.parametrize(
    "url", ["ftp://example.com/card.png", "file:///etc/passwd", "example.com/card.png"]
)
async def test_only_http_and_https_links_work(fetcher: GuardedFetcher, url: str) -> None:
    """Other schemes, and links without one, are refused before any connection."""
    with pytest.raises(UsageError, match="only http and https links work"):
        await fetcher.fetch(url, max_bytes=1024)


async def test_redirect_to_another_scheme_is_refused(
    fetcher: GuardedFetcher, files: FileServer
) -> None:
    """A redirect is checked like the first link."""
    files.routes["/card.png"] = status(302, location="ftp://127.0.0.1/card.png")
    with pytest.raises(UsageError, match="only http and https links work"):
        await fetcher.fetch(files.url("/card.png"), max_bytes=len(CARD))


async def test_connection_refused_names_host_and_port(fetcher: GuardedFetcher) -> None:
    """Nothing listening: the message says where."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(UsageError, match=f"nothing answers at 127.0.0.1:{port}$"):
        await fetcher.fetch(f"http://127.0.0.1:{port}/card.png", max_bytes=1024)


async def test_a_server_that_hangs_times_out(http: httpx.AsyncClient, files: FileServer) -> None:
    """The whole download is bounded in time."""
    files.routes["/slow.png"] = hang
    fetcher = GuardedFetcher(http, timeout_seconds=0.2)
    async with asyncio.timeout(5):
        with pytest.raises(UsageError, match=r"it took longer than 0\.2 seconds"):
            await fetcher.fetch(files.url("/slow.png"), max_bytes=1024)


async def test_no_credentials_are_sent(
    fetcher: GuardedFetcher, http: httpx.AsyncClient, files: FileServer
) -> None:
    """No Authorization, and none of the shared client's cookies, on any hop."""
    http.cookies.set("session", "endpoint-cookie", domain="127.0.0.1")
    files.routes["/a"] = status(302, location="/card.png")
    files.routes["/card.png"] = ok(CARD)
    await fetcher.fetch(files.url("/a"), max_bytes=len(CARD))
    heads = "".join(files.heads).lower()
    assert len(files.heads) == 2
    assert "authorization" not in heads
    assert "cookie" not in heads


async def test_links_with_a_password_are_refused(
    fetcher: GuardedFetcher, files: FileServer
) -> None:
    """user:password@host would be sent as Basic auth: refused before connecting."""
    with pytest.raises(UsageError, match="user name or password"):
        await fetcher.fetch(f"http://me:pw@127.0.0.1:{files.port}/card.png", max_bytes=1024)
    assert files.heads == []


async def test_logs_name_the_host_not_the_link(
    fetcher: GuardedFetcher, files: FileServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A link's path and query may hold a token: logs carry host:port only."""
    caplog.set_level(logging.DEBUG, logger="bot.llm")
    files.routes["/card.png"] = ok(CARD)
    await fetcher.fetch(files.url("/card.png?token=s3cr3t"), max_bytes=len(CARD))
    assert f"127.0.0.1:{files.port}" in caplog.text
    assert "s3cr3t" not in caplog.text
