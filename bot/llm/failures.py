"""httpx's transport failures as ours, naming the likely cause: TLS, nothing listening,
an unknown host, a timeout. Messages name host:port at most, never a URL or its query.
"""

from __future__ import annotations

import socket
import ssl

import httpx

from bot.core.errors import EndpointError, EndpointStreamError, EndpointTimeout, EndpointUnreachable


def transport_error(
    exc: httpx.HTTPError | httpx.InvalidURL, host: str, *, started: bool
) -> EndpointError:
    """httpx's failure as ours. Messages name host:port at most, never the URL or its query."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return EndpointTimeout(
            f"{host} did not accept a connection in time",
            phase="connect",
            hint="check the base URL and that the server is running",
        )
    if isinstance(exc, httpx.TimeoutException):
        return EndpointTimeout(f"{host} stopped answering", phase="idle", hint="try again")
    if isinstance(exc, httpx.InvalidURL | httpx.UnsupportedProtocol):
        return EndpointUnreachable(
            "the base URL is not a valid http(s) URL",
            hint="it should look like https://host/v1",
        )
    if started or isinstance(exc, httpx.ProtocolError | httpx.DecodingError):
        return EndpointStreamError(
            f"the connection to {host} broke off", hint="try again; the endpoint may have crashed"
        )
    return connect_failure(exc, host)


def connect_failure(exc: BaseException, host: str) -> EndpointError:
    """Name why a connection failed: TLS, nothing listening, or an unknown host."""
    causes = _chain(exc)
    if any(isinstance(cause, ssl.SSLError) for cause in causes):
        return EndpointUnreachable(
            f"the TLS handshake with {host} failed",
            hint="a local server usually speaks plain http://, not https://; a cloud one needs "
            "https:// and a valid certificate",
        )
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return EndpointUnreachable(
            f"nothing is listening at {host}",
            hint="check the port and that the server is running (and, in Docker, that "
            "localhost is not the container itself)",
        )
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return EndpointUnreachable(
            f"the host of {host} could not be found", hint="check the spelling of the host name"
        )
    return EndpointUnreachable(
        f"could not reach the endpoint at {host}",
        hint="check the base URL and that the server is running",
    )


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen
