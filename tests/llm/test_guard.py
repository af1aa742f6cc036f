"""The endpoint guard: address classification; connect-time refusals against loopback servers."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Iterable
from ipaddress import ip_address

import httpcore
import httpx
import pytest

from bot.core.domain import Connection
from bot.core.errors import EndpointNotAllowed, EndpointUnreachable
from bot.llm import guard
from bot.llm.client import OpenAICompatClient
from bot.llm.deadline import StreamTimeouts
from bot.llm.guard import (
    REFUSAL_MESSAGE,
    EndpointPolicy,
    GuardedNetworkBackend,
    address_refusal,
    build_guarded_http_client,
    parse_allowed_hosts,
)

TIMEOUTS = StreamTimeouts(
    connect_seconds=5.0, first_token_seconds=5.0, idle_seconds=5.0, total_seconds=10.0
)
PUBLIC_IP = "93.184.215.14"
OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 13\r\n"
    b'Connection: close\r\n\r\n{"data": []}\n'
)

# Teredo: server 65.54.227.120, client bits inverted (RFC 4380).
TEREDO_PRIVATE = "2001:0:4136:e378:8000:63bf:f5ff:fffe"  # client 10.0.0.1
TEREDO_METADATA = "2001:0:4136:e378:8000:63bf:5601:5601"  # client 169.254.169.254

PRIVATE_FORMS = [
    "127.0.0.1", "127.1.2.3", "::1", "10.1.2.3", "172.16.5.4", "192.168.1.1", "100.64.0.1",
    "fc00::1", "fd12:3456::1", "198.18.0.1", "192.0.0.1",
    "::ffff:10.0.0.1", "::ffff:127.0.0.1", "2002:7f00:0001::1", "2002:0a00:0001::1",
    TEREDO_PRIVATE, "64:ff9b::7f00:1", "64:ff9b::a00:1",
]  # fmt: skip
NEVER_FORMS = [
    "169.254.169.254", "169.254.1.1", "fd00:ec2::254", "100.100.100.200", "fe80::1",
    "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::1", TEREDO_METADATA,
    "64:ff9b:1::a9fe:a9fe", "64:ff9b:1:a9fe:a9:fe00::", "::a9fe:a9fe", "::ffff:100.100.100.200",
    "0.0.0.0", "0.1.2.3", "::", "224.0.0.1", "233.252.0.1", "ff02::1", "ff0e::1",
    "240.0.0.1", "255.255.255.255", "::ffff:224.0.0.1",
]  # fmt: skip
# Python 3.11.7 calls these global; they are not publicly routable.
IS_GLOBAL_GAPS = [
    "fec0::1", "3fff::1", "5f00::1", "100:0:0:1::1", "::7f00:1", "192.88.99.1", "64:ff9b:1::1",
    "2002:808:808::1",
]  # fmt: skip
PUBLIC = [
    "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2001:4860:4860::8888",
    "64:ff9b::808:808", "::ffff:8.8.8.8",
]  # fmt: skip


@pytest.mark.parametrize("address", PRIVATE_FORMS + NEVER_FORMS + IS_GLOBAL_GAPS)
def test_non_public_address_is_refused_by_default(address: str) -> None:
    """Every loopback, private, reserved or embedded-private form is refused by default."""
    assert address_refusal(ip_address(address), allow_private=False) is not None


@pytest.mark.parametrize("address", PRIVATE_FORMS)
def test_private_address_opens_with_allow_private(address: str) -> None:
    """Loopback, RFC 1918, CGNAT, ULA (also embedded in IPv6) open for self-hosters."""
    assert address_refusal(ip_address(address), allow_private=True) is None


@pytest.mark.parametrize("address", NEVER_FORMS)
def test_metadata_link_local_unspecified_and_multicast_never_open(address: str) -> None:
    """Metadata, link-local, unspecified, multicast and reserved stay refused with allow_private."""
    assert address_refusal(ip_address(address), allow_private=True) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_address_is_allowed(address: str) -> None:
    """Public unicast, and NAT64 or IPv4-mapped forms of a public IPv4 address, are allowed."""
    assert address_refusal(ip_address(address), allow_private=False) is None


def test_refusal_reason_names_the_embedding() -> None:
    """The logged reason says which IPv6 form carried the IPv4 address."""
    reason = address_refusal(ip_address("::ffff:169.254.169.254"), allow_private=False)
    assert reason == "cloud metadata inside IPv4-mapped"


def test_parse_allowed_hosts_reads_names_ipv4_and_bracketed_ipv6() -> None:
    """Host names, IPv4 and bracketed IPv6 with ports become (host, port) pairs."""
    pairs = parse_allowed_hosts(" llama:8080, 10.0.0.5:8000 ,[fd00::1]:8000,host_1.lan:1234")
    assert pairs == {("llama", 8080), ("10.0.0.5", 8000), ("fd00::1", 8000), ("host_1.lan", 1234)}


def test_parse_allowed_hosts_lowercases_and_canonicalises() -> None:
    """Names are compared case-insensitively and IPv6 in its canonical form."""
    assert parse_allowed_hosts("Llama:8080,[FD00:0:0::1]:80") == {("llama", 8080), ("fd00::1", 80)}


def test_parse_allowed_hosts_of_an_empty_value_is_empty() -> None:
    """An unset or blank variable opens nothing."""
    assert parse_allowed_hosts("") == frozenset()
    assert parse_allowed_hosts(" , ") == frozenset()


@pytest.mark.parametrize(
    "entry",
    ["llama", "llama:", ":8080", "llama:http", "llama:0", "llama:70000", "fd00::1:8000",
     "[fd00::1]", "[llama]:80", "http://llama:8080", "lla ma:80", "llama:8080/v1", "-x:80"],
)  # fmt: skip
def test_parse_allowed_hosts_rejects_a_malformed_entry(entry: str) -> None:
    """A bare host, a bad port, unbracketed IPv6 or a URL is a clear configuration error."""
    with pytest.raises(ValueError, match="must be host:port"):
        parse_allowed_hosts(f"ok:1,{entry}")


class CountingServer:
    """A loopback HTTP server that counts connections and records request heads."""

    def __init__(self, response: bytes = OK) -> None:
        self.response = response
        self.connections = 0
        self.heads: list[bytes] = []
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> CountingServer:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port: int = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        await self._server.wait_closed()
        await asyncio.gather(*self._handlers)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections += 1
        try:
            self.heads.append(await reader.readuntil(b"\r\n\r\n"))
            writer.write(self.response)
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            await writer.wait_closed()


@pytest.fixture
async def server() -> AsyncIterator[CountingServer]:
    async with CountingServer() as running:
        yield running


@pytest.fixture
async def other() -> AsyncIterator[CountingServer]:
    async with CountingServer() as running:
        yield running


def fixed(answers: dict[str, list[str]], calls: list[str] | None = None) -> guard.Resolver:
    """A resolver with fixed answers, keyed on the host as httpcore hands it over."""

    async def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        return answers[host]

    return resolve


async def get(
    policy: EndpointPolicy,
    url: str,
    *,
    resolve: guard.Resolver = guard.resolve_host,
    inner: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.Response:
    async with build_guarded_http_client(policy, TIMEOUTS, resolve=resolve, inner=inner) as client:
        return await client.get(url)


async def test_loopback_ip_is_refused_before_any_packet(server: CountingServer) -> None:
    """By default a loopback URL is refused and the server never sees a connection."""
    with pytest.raises(EndpointNotAllowed):
        await get(EndpointPolicy(), f"http://127.0.0.1:{server.port}/v1/models")
    assert server.connections == 0


async def test_hostname_resolving_to_loopback_is_refused(server: CountingServer) -> None:
    """`localhost` is judged by what it resolves to."""
    with pytest.raises(EndpointNotAllowed):
        await get(EndpointPolicy(), f"http://localhost:{server.port}/v1/models")
    assert server.connections == 0


@pytest.mark.parametrize("host", ["127.1", "2130706433", "[::ffff:127.0.0.1]", "[::1]"])
async def test_other_spellings_of_loopback_are_refused(server: CountingServer, host: str) -> None:
    """Shorthand, decimal, IPv4-mapped and IPv6 loopback spellings are refused too."""
    with pytest.raises(EndpointNotAllowed):
        await get(EndpointPolicy(), f"http://{host}:{server.port}/v1/models")
    assert server.connections == 0


async def test_allow_private_lets_loopback_through(server: CountingServer) -> None:
    """With ALLOW_PRIVATE_ENDPOINTS the request reaches the loopback server."""
    response = await get(EndpointPolicy(allow_private=True), f"http://127.0.0.1:{server.port}/")
    assert response.status_code == 200
    assert server.connections == 1


async def test_allowed_host_opens_exactly_that_port(
    server: CountingServer, other: CountingServer
) -> None:
    """An allowed host:port opens that port of that host, and not another port."""
    policy = EndpointPolicy(allowed_hosts=frozenset({("127.0.0.1", server.port)}))
    assert (await get(policy, f"http://127.0.0.1:{server.port}/")).status_code == 200
    with pytest.raises(EndpointNotAllowed):
        await get(policy, f"http://127.0.0.1:{other.port}/")
    assert (server.connections, other.connections) == (1, 0)


async def test_allowed_host_is_matched_on_the_host_as_typed(server: CountingServer) -> None:
    """Allowing 127.0.0.1:port does not allow another name for the same address."""
    policy = EndpointPolicy(allowed_hosts=frozenset({("127.0.0.1", server.port)}))
    with pytest.raises(EndpointNotAllowed):
        await get(policy, f"http://localhost:{server.port}/")
    assert server.connections == 0


async def test_mixed_dns_answer_is_refused(server: CountingServer) -> None:
    """One private address among public ones is enough to refuse the host."""
    resolve = fixed({"mixed.test": [PUBLIC_IP, "127.0.0.1"]})
    with pytest.raises(EndpointNotAllowed):
        await get(EndpointPolicy(), f"http://mixed.test:{server.port}/", resolve=resolve)
    assert server.connections == 0


async def test_connection_goes_to_the_validated_address(server: CountingServer) -> None:
    """The name is resolved once; the request goes to that address with the original Host."""
    calls: list[str] = []
    resolve = fixed({"example.test": ["127.0.0.1"]}, calls)
    url = f"http://example.test:{server.port}/v1/models"
    response = await get(EndpointPolicy(allow_private=True), url, resolve=resolve)
    assert response.status_code == 200
    assert calls == ["example.test"]
    assert f"\r\nHost: example.test:{server.port}\r\n".encode() in server.heads[0]


async def test_every_request_resolves_and_checks_again(server: CountingServer) -> None:
    """No keep-alive: each request opens, and so re-checks, a fresh connection."""
    calls: list[str] = []
    resolve = fixed({"example.test": ["127.0.0.1"]}, calls)
    async with build_guarded_http_client(
        EndpointPolicy(allow_private=True), TIMEOUTS, resolve=resolve
    ) as client:
        for _ in range(2):
            assert (await client.get(f"http://example.test:{server.port}/")).status_code == 200
    assert (calls, server.connections) == (["example.test"] * 2, 2)


async def test_next_checked_address_is_tried_when_one_fails(server: CountingServer) -> None:
    """An unreachable first answer (a closed IPv6 port) falls back to the next checked one."""
    resolve = fixed({"dual.test": ["::1", "127.0.0.1"]})
    url = f"http://dual.test:{server.port}/"
    response = await get(EndpointPolicy(allow_private=True), url, resolve=resolve)
    assert response.status_code == 200


async def test_host_given_as_bytes_is_resolved_as_text() -> None:
    """httpcore may hand the host over as bytes; it is judged all the same."""
    backend = GuardedNetworkBackend(EndpointPolicy(), resolve=fixed({"bytes.test": ["10.0.0.1"]}))
    with pytest.raises(EndpointNotAllowed):
        await backend.connect_tcp(b"bytes.test", 80)  # type: ignore[arg-type]


async def test_redirect_is_not_followed(other: CountingServer) -> None:
    """A 307 to another loopback port comes back as a 307; the target sees nothing."""
    location = f"http://127.0.0.1:{other.port}/v1/models"
    redirect = f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\n"
    redirect += "Content-Length: 0\r\nConnection: close\r\n\r\n"
    async with CountingServer(redirect.encode()) as first:
        response = await get(EndpointPolicy(allow_private=True), f"http://127.0.0.1:{first.port}/")
    assert response.status_code == 307
    assert other.connections == 0


async def test_proxy_environment_is_ignored(
    server: CountingServer, other: CountingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HTTP(S)_PROXY and ALL_PROXY do not route chat-set endpoints through a proxy."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, f"http://127.0.0.1:{other.port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    response = await get(EndpointPolicy(allow_private=True), f"http://127.0.0.1:{server.port}/")
    assert response.status_code == 200
    assert (server.connections, other.connections) == (1, 0)


async def test_refusal_message_is_the_same_for_metadata_private_and_loopback() -> None:
    """Every refusal reads the same, so refusals cannot tell one internal range from another."""
    messages = set()
    for host in ("169.254.169.254", "10.0.0.1", "127.0.0.1", "[fd00:ec2::254]", "metadata.test"):
        resolve = fixed({"metadata.test": ["100.100.100.200"]})
        with pytest.raises(EndpointNotAllowed) as refused:
            await get(EndpointPolicy(), f"http://{host}:80/latest/meta-data", resolve=resolve)
        messages.add(str(refused.value))
    assert messages == {REFUSAL_MESSAGE}


async def test_refusal_message_does_not_echo_the_address() -> None:
    """The user never sees which address the name resolved to."""
    resolve = fixed({"inside.test": ["10.11.12.13"]})
    with pytest.raises(EndpointNotAllowed) as refused:
        await get(EndpointPolicy(), "http://inside.test/", resolve=resolve)
    assert "10.11.12.13" not in str(refused.value)
    assert "inside.test" not in str(refused.value)


async def test_refusal_propagates_unwrapped_from_a_stream() -> None:
    """Inside httpx the refusal is not wrapped: `client.stream` raises EndpointNotAllowed itself."""
    async with build_guarded_http_client(EndpointPolicy(), TIMEOUTS) as client:
        with pytest.raises(EndpointNotAllowed) as refused:
            async with client.stream("POST", "http://127.0.0.1:9/v1/chat/completions"):
                pass
    assert type(refused.value) is EndpointNotAllowed
    assert refused.value.__cause__ is None


async def test_openai_client_surfaces_the_refusal() -> None:
    """`OpenAICompatClient` lets the refusal through as EndpointNotAllowed, not as unreachable."""
    async with build_guarded_http_client(EndpointPolicy(), TIMEOUTS) as http:
        client = OpenAICompatClient(http, timeouts=TIMEOUTS)
        with pytest.raises(EndpointNotAllowed):
            await client.models(Connection(base_url="http://10.0.0.1:8080/v1"))


async def test_dns_failure_is_a_connect_error_not_a_refusal() -> None:
    """A name that does not resolve is unreachable (httpx.ConnectError), not refused."""

    async def fail(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async with build_guarded_http_client(EndpointPolicy(), TIMEOUTS, resolve=fail) as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("http://nowhere.test/")
        client = OpenAICompatClient(http, timeouts=TIMEOUTS)
        with pytest.raises(EndpointUnreachable):
            await client.models(Connection(base_url="http://nowhere.test/v1"))


async def test_slow_dns_is_a_connect_timeout() -> None:
    """Name resolution is bounded by the policy's resolve timeout."""
    never = asyncio.Event()

    async def hang(host: str, port: int) -> list[str]:
        await never.wait()
        return []

    policy = EndpointPolicy(resolve_timeout_seconds=0.01)
    with pytest.raises(httpx.ConnectTimeout):
        await get(policy, "http://slow.test/", resolve=hang)


async def test_unix_socket_is_refused() -> None:
    """A socket path has no address to check, so it is refused outright."""
    with pytest.raises(EndpointNotAllowed, match="not allowed"):
        await GuardedNetworkBackend(EndpointPolicy()).connect_unix_socket("/run/docker.sock")


class RecordingStream(httpcore.AsyncNetworkStream):
    def __init__(self, calls: list[tuple[str, object]]) -> None:
        self.calls = calls

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
    ) -> httpcore.AsyncNetworkStream:
        self.calls.append(("start_tls", server_hostname))
        raise httpcore.ConnectError("handshake stopped by the test")

    async def aclose(self) -> None:
        self.calls.append(("aclose", None))


class RecordingBackend(httpcore.AsyncNetworkBackend):
    """Records what the guard asks of the network, and sends nothing."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.calls.append(("connect_tcp", (host, port)))
        return RecordingStream(self.calls)


async def test_tls_is_verified_against_the_hostname_not_the_address() -> None:
    """httpcore starts TLS with the URL's host as server_hostname on our IP-literal connection."""
    inner = RecordingBackend()
    resolve = fixed({"api.example.test": [PUBLIC_IP]})
    with pytest.raises(httpx.ConnectError):
        await get(
            EndpointPolicy(), "https://api.example.test/v1/models", resolve=resolve, inner=inner
        )
    assert inner.calls[:2] == [("connect_tcp", (PUBLIC_IP, 443)), ("start_tls", "api.example.test")]


async def test_guard_is_attached_to_httpx_pool() -> None:
    """Pins the private httpx seam: the transport's pool connects through the guard."""
    client = build_guarded_http_client(EndpointPolicy(), TIMEOUTS)
    async with client:
        transport = client._transport
        assert isinstance(transport, httpx.AsyncHTTPTransport)
        pool = transport._pool
        assert type(pool) is httpcore.AsyncConnectionPool
        assert isinstance(pool._network_backend, GuardedNetworkBackend)
        assert pool._max_keepalive_connections == 0


async def test_build_fails_loudly_when_httpx_moves_its_pool(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """If httpx stops keeping its pool in `_pool`, building the client fails rather than opens."""

    class MovedPool(httpx.AsyncHTTPTransport):
        def __init__(self, **kwargs: object) -> None:
            super().__init__(**kwargs)  # type: ignore[arg-type]
            self._connections = self._pool
            del self._pool

    monkeypatch.setattr(guard.httpx, "AsyncHTTPTransport", MovedPool)
    with pytest.raises(RuntimeError, match="cannot attach"):
        build_guarded_http_client(EndpointPolicy(), TIMEOUTS)
