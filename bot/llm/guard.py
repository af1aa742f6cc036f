"""The endpoint guard: which addresses a chat-set endpoint may reach, enforced when httpx connects.

Knows addresses, DNS and httpcore's network backend; knows nothing of URLs, keys, chats or Settings.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from ipaddress import IPv6Address, ip_address
from typing import TypeAlias

import httpcore
import httpx

from bot.core.errors import EndpointNotAllowed
from bot.llm.addresses import IPAddress, address_refusal
from bot.llm.deadline import StreamTimeouts

_log = logging.getLogger(__name__)

REFUSAL_MESSAGE = (
    "That endpoint is not allowed: it points at a private or reserved address. "
    "The operator can allow private endpoints with ALLOW_PRIVATE_ENDPOINTS=true."
)
"""The one text for every refusal, so that differences between refusals cannot map a network."""

Resolver: TypeAlias = Callable[[str, int], Awaitable[Sequence[str]]]
"""(host, port) → the addresses the host resolves to, as IP literals."""


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    """What the operator opened. `allowed_hosts` holds exact (host, port) pairs, host lower-case."""

    allow_private: bool = False
    allowed_hosts: frozenset[tuple[str, int]] = frozenset()
    resolve_timeout_seconds: float = 5.0


_HOST_NAME = re.compile(r"[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?")  # IPv4 literals match too


def parse_allowed_hosts(raw: str) -> frozenset[tuple[str, int]]:
    """`ALLOWED_ENDPOINT_HOSTS` ("llama:8080,10.0.0.5:8000,[fd00::1]:8000") as (host, port) pairs.

    The port is mandatory, as in LibreChat: an exemption opens one service, not every port.
    """
    return frozenset(_parse_host_port(entry) for entry in map(str.strip, raw.split(",")) if entry)


def _parse_host_port(entry: str) -> tuple[str, int]:
    wanted = f"ALLOWED_ENDPOINT_HOSTS: {entry!r} must be host:port (IPv6 as [addr]:port)"
    bracketed = entry.startswith("[")
    host, separator, port = entry[1:].partition("]:") if bracketed else entry.rpartition(":")
    try:
        host = str(IPv6Address(host)) if bracketed else _host_key(host)
    except ValueError:
        raise ValueError(wanted) from None
    if not separator or not (bracketed or _HOST_NAME.fullmatch(host)):
        raise ValueError(wanted)
    if not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        raise ValueError(f"{wanted}; the port must be a number from 1 to 65535")
    return host, int(port)


def _host_key(host: str) -> str:
    """How a host is compared with `allowed_hosts`: lower-case, IP literals in canonical form."""
    host = host.strip("[]").lower()
    try:
        return str(ip_address(host))
    except ValueError:
        return host


async def resolve_host(host: str, port: int) -> list[str]:
    """The system resolver's TCP addresses for `host`, in the order it prefers them."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos if info[0] in (socket.AF_INET, socket.AF_INET6)]


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that resolves, checks every address, then connects to one.

    The connection goes to an address that was checked, never to the name again, so DNS
    rebinding cannot slip a second answer past the check. TLS still verifies the certificate
    against the name: httpcore's `AsyncHTTPConnection._connect` calls `connect_tcp` (here) and
    then, for https, `stream.start_tls(ssl_context, server_hostname=<sni_hostname or the URL's
    host>)` on the stream we return, so SNI and hostname checking never see our IP literal.
    """

    def __init__(
        self,
        policy: EndpointPolicy,
        *,
        inner: httpcore.AsyncNetworkBackend | None = None,
        resolve: Resolver = resolve_host,
    ) -> None:
        self._policy = policy
        self._inner = httpcore.AnyIOBackend() if inner is None else inner
        self._resolve = resolve

    async def connect_tcp(
        self,
        host: str | bytes,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first reachable checked address; refuse the host if any is refused."""
        name = _host_key(host.decode("ascii") if isinstance(host, bytes) else host)
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        addresses = await self.admit(name, port, connect_seconds=timeout)
        error: Exception = httpcore.ConnectError(f"no address to connect to for {name}")
        for address in addresses:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout("connect timed out")
            try:
                return await self._inner.connect_tcp(
                    str(address), port, remaining, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc  # an unroutable IPv6 answer must not hide a working IPv4 one
        raise error

    async def admit(
        self, host: str, port: int, *, connect_seconds: float | None = None
    ) -> list[IPAddress]:
        """The addresses `host` may be reached at; EndpointNotAllowed when any is refused.

        httpcore's ConnectError or ConnectTimeout when the name cannot be resolved.
        """
        name = _host_key(host)
        addresses = await self._addresses(name, port, connect_seconds=connect_seconds)
        if (name, port) not in self._policy.allowed_hosts:
            self._check(name, port, addresses)
        return addresses

    async def _addresses(
        self, name: str, port: int, *, connect_seconds: float | None
    ) -> list[IPAddress]:
        """The host's addresses, without duplicates; an IP literal is its own answer."""
        try:
            return [ip_address(name)]
        except ValueError:
            pass
        limit = self._policy.resolve_timeout_seconds
        try:
            limit = limit if connect_seconds is None else min(limit, connect_seconds)
            async with asyncio.timeout(limit):
                answers = await self._resolve(name, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout("name resolution timed out") from exc
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"name resolution failed: {exc}") from exc
        try:
            addresses = list(dict.fromkeys(ip_address(answer) for answer in answers))
        except ValueError as exc:
            raise httpcore.ConnectError("the resolver returned a non-address") from exc
        if not addresses:
            raise httpcore.ConnectError("the name resolved to no address")
        return addresses

    def _check(self, name: str, port: int, addresses: Sequence[IPAddress]) -> None:
        """Refuse the host when any of its addresses is refused (one bad answer is enough)."""
        for address in addresses:
            reason = address_refusal(address, allow_private=self._policy.allow_private)
            if reason is not None:
                _log.info("endpoint guard refused %s:%s (%s)", name, port, reason)
                _log.debug("endpoint guard: %s:%s resolved to %s", name, port, address)
                raise EndpointNotAllowed(REFUSAL_MESSAGE)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's signature)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Refused: a socket path reaches local services without any address to check."""
        raise EndpointNotAllowed(REFUSAL_MESSAGE)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class AddressGuard:
    """The guard's verdict on a host before anything connects to it (implements
    `EndpointGuard`), for an endpoint stored without the probe that would have met the guard.
    """

    def __init__(self, policy: EndpointPolicy, *, resolve: Resolver = resolve_host) -> None:
        self._backend = GuardedNetworkBackend(policy, resolve=resolve)

    async def check(self, host: str, port: int) -> None:
        """Raise EndpointNotAllowed if the guard would refuse `host:port`.

        A name that does not resolve now passes: the guard judges it again at every
        connection, so nothing it refuses is ever reached.
        """
        try:
            await self._backend.admit(host, port)
        except (httpcore.ConnectError, httpcore.ConnectTimeout):
            _log.info("endpoint guard: %s:%s does not resolve yet; judged when used", host, port)


def build_guarded_http_client(
    policy: EndpointPolicy,
    timeouts: StreamTimeouts,
    *,
    resolve: Resolver = resolve_host,
    inner: httpcore.AsyncNetworkBackend | None = None,
) -> httpx.AsyncClient:
    """The HTTP client for chat-set endpoints: `build_http_client`'s settings, guarded connects.

    No keep-alive (every request opens, and so re-checks, a fresh connection; no pooled
    connection is reused across hosts), no proxy from the environment (the guard would only see
    the proxy), no redirects. `resolve` and `inner` are seams for tests. A refusal reaches
    callers of `client.get`/`client.stream` as `EndpointNotAllowed` itself: httpcore re-raises
    it and httpx's `map_httpcore_exceptions` maps only httpcore's own exceptions.
    """
    limits = httpx.Limits(max_keepalive_connections=0)
    ssl_context = httpx.create_ssl_context(trust_env=False)
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, trust_env=False, limits=limits)
    # httpx 0.28 takes no network backend; its transport keeps the httpcore pool in the private
    # `_pool`. Swap in a pool built through httpcore's public API, and fail at start-up, not
    # open, if httpx ever moves it (tests/llm/test_guard.py pins this).
    if type(getattr(transport, "_pool", None)) is not httpcore.AsyncConnectionPool:
        raise RuntimeError(
            "httpx.AsyncHTTPTransport no longer keeps an httpcore.AsyncConnectionPool in `_pool`:"
            " the endpoint guard cannot attach; check the httpx/httpcore versions"
        )
    transport._pool = httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=GuardedNetworkBackend(policy, inner=inner, resolve=resolve),
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeouts.idle_seconds, connect=timeouts.connect_seconds),
        trust_env=False,
        follow_redirects=False,
    )
