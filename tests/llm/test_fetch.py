"""GuardedFetcher over real loopback HTTP, against a tiny file server and the real guard."""

from __future__ import annotations

import asyncio
import gzip
import logging
import socket
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from bot.core.errors import EndpointNotAllowed, UsageError
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
    with pytest.raises(
        UsageError, match=r"^Could not download the card: it is larger than 20 MB, the limit\. "
    ):
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
    with pytest.raises(
        UsageError, match=r"^Could not download the card: the server answered 404\. Check the link"
    ):
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
    with pytest.raises(UsageError, match=f"nothing answers at 127.0.0.1:{port}\\. "):
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


def packed(body: bytes, encoding: str) -> bytes:
    """A 200 whose body is sent compressed although the request asked for none."""
    head = f"HTTP/1.1 200 OK\r\nContent-Encoding: {encoding}\r\nContent-Length: {len(body)}\r\n"
    return (head + "Connection: close\r\n\r\n").encode() + body


def gzip_bomb(unpacked_bytes: int) -> bytes:
    """`unpacked_bytes` of zeros as gzip, built a megabyte at a time: about 1 KB per MB."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    return b"".join(packer.compress(block) for _ in range(unpacked_bytes >> 20)) + packer.flush()


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", " GZip "])
async def test_a_card_sent_compressed_anyway_is_unpacked(
    fetcher: GuardedFetcher, files: FileServer, encoding: str
) -> None:
    """A server that compresses despite `identity` still delivers the card."""
    body = zlib.compress(CARD) if encoding == "deflate" else gzip.compress(CARD)
    files.routes["/card.png"] = packed(body, encoding)
    assert await fetcher.fetch(files.url("/card.png"), max_bytes=len(CARD)) == CARD


async def test_a_compressed_body_is_capped_by_what_it_unpacks_to(
    fetcher: GuardedFetcher, files: FileServer
) -> None:
    """64 MB of zeros sent as 64 KB of gzip: refused, never unpacked past the limit."""
    files.routes["/bomb.png"] = packed(gzip_bomb(64 << 20), "gzip")
    tracemalloc.start()
    try:
        with pytest.raises(UsageError, match="it is larger than 1 MB, the limit"):
            await fetcher.fetch(files.url("/bomb.png"), max_bytes=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20


@pytest.mark.parametrize(
    ("body", "encoding", "words"),
    [
        (b"\x1f\x8b not gzip at all", "gzip", "compressed, and damaged"),
        (b"whatever", "br", "cannot unpack"),
        (b"whatever", "zstd, gzip", "cannot unpack"),
    ],
)
async def test_a_body_that_cannot_be_unpacked_is_refused_in_one_line(
    fetcher: GuardedFetcher, files: FileServer, body: bytes, encoding: str, words: str
) -> None:
    """Damaged or unknown compression is named, not a generic failure."""
    files.routes["/card.png"] = packed(body, encoding)
    with pytest.raises(UsageError, match=words) as refused:
        await fetcher.fetch(files.url("/card.png"), max_bytes=1024)
    assert "\n" not in str(refused.value)


async def _failure(fetcher: GuardedFetcher, files: FileServer, case: str) -> str:
    """The message of one kind of failed download."""
    files.routes["/missing.png"] = status(404)
    files.routes["/loop"] = status(302, location="/loop")
    files.routes["/nowhere"] = status(302)
    files.routes["/big.png"] = ok(CARD)
    links = {
        "status": files.url("/missing.png"),
        "redirects": files.url("/loop"),
        "redirect without target": files.url("/nowhere"),
        "too large": files.url("/big.png"),
        "scheme": "ftp://example.com/card.png",
        "password": f"http://me:pw@127.0.0.1:{files.port}/card.png",
        "invalid": "http://exa mple.com:99999/card.png",
    }
    with pytest.raises(UsageError) as refused:
        await fetcher.fetch(links[case], max_bytes=100)
    return str(refused.value)


@pytest.mark.parametrize(
    "case",
    [
        "status",
        "redirects",
        "redirect without target",
        "too large",
        "scheme",
        "password",
        "invalid",
    ],
)
async def test_every_failure_speaks_in_the_bots_voice(
    fetcher: GuardedFetcher, files: FileServer, case: str
) -> None:
    """One line, capitalised sentences: what went wrong, then what to do."""
    message = await _failure(fetcher, files, case)
    assert message.startswith("Could not download the card: ")
    hint = message.partition(". ")[2]
    assert hint[:1].isupper(), message
    assert message.endswith("."), message
    assert "\n" not in message
