"""Downloads a file a user linked (a character card) through the endpoint guard, size-capped.

Knows HTTP, redirects and limits; knows nothing of card formats, chats or keys: it sends none.
The cap holds for the bytes the body unpacks to as well as for those on the wire.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import zlib

import httpx

from bot.core.errors import UsageError
from bot.llm.failures import _chain

_log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 20.0
MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_GZIP_OR_ZLIB_WBITS = 32 + zlib.MAX_WBITS  # either header, told apart by zlib
_UNPACKED = frozenset({"gzip", "x-gzip", "deflate"})
_CHECK_OR_ATTACH = "Check the link, or attach the card file instead."
_TRY_AGAIN = "Try again later, or attach the card file instead."


def _failed(why: str, hint: str = _CHECK_OR_ATTACH) -> UsageError:
    """One line in the voice of the other errors: what went wrong, then what to do."""
    return UsageError(f"Could not download the card: {why}. {hint}")


class GuardedFetcher:
    """Implements `Fetcher` over the guarded HTTP client.

    Only http and https; redirects are followed here, at most `max_redirects`, each target
    checked like the first link (and the guard checks every connection it opens). Never sends
    a credential: no Authorization, none of the shared client's cookies, no user:password link.
    Reads at most `max_bytes`, whatever Content-Length says. Every failure is a `UsageError`
    that says what to fix; the guard's `EndpointNotAllowed` passes through unchanged.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        timeout_seconds: float = TIMEOUT_SECONDS,
        max_redirects: int = MAX_REDIRECTS,
    ) -> None:
        self._http = http
        self._timeout_seconds = timeout_seconds
        self._max_redirects = max_redirects

    async def fetch(self, url: str, *, max_bytes: int) -> bytes:
        target = _checked(url)
        try:
            async with asyncio.timeout(self._timeout_seconds):
                for _ in range(self._max_redirects + 1):
                    _log.debug("downloading a file from %s", _host_port(target))
                    body, target_next = await self._get(target, max_bytes)
                    if target_next is None:
                        return body
                    target = target_next
        except TimeoutError:
            raise _failed(
                f"it took longer than {self._timeout_seconds:g} seconds", _TRY_AGAIN
            ) from None
        raise _failed(f"the link redirects more than {self._max_redirects} times")

    async def _get(self, url: httpx.URL, max_bytes: int) -> tuple[bytes, httpx.URL | None]:
        """The body, or where a redirect points; transport errors as `UsageError`."""
        request = self._http.build_request(
            "GET", url, headers={"Accept": "*/*", "Accept-Encoding": "identity"}
        )
        request.headers.pop("Cookie", None)  # the client is shared with endpoints: never theirs
        try:
            response = await self._http.send(request, stream=True, follow_redirects=False)
            try:
                status = response.status_code
                if status in _REDIRECT_STATUSES:
                    return b"", _redirect_target(url, response)
                if not 200 <= status < 300:
                    raise _failed(f"the server answered {status}")
                return await _read_limited(response, max_bytes), None
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            raise _failed(f"{_host_port(url)} took too long to answer", _TRY_AGAIN) from None
        except httpx.ConnectError as exc:
            raise _failed(_connect_problem(exc, _host_port(url))) from None
        except httpx.HTTPError:
            raise _failed(f"the connection to {_host_port(url)} broke off", _TRY_AGAIN) from None


def _checked(url: str | httpx.URL) -> httpx.URL:
    """An http(s) URL with a host and no user:password, or the `UsageError` saying why not."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
    except httpx.InvalidURL:
        raise _failed("that is not a valid link") from None
    if parsed.scheme not in _DEFAULT_PORTS:
        raise _failed("only http and https links work", "Give a link that starts with https://.")
    if not parsed.host:
        raise _failed("that is not a valid link")
    if parsed.userinfo:  # httpx would send it as Basic auth
        raise _failed(
            "links with a user name or password are not accepted",
            "Give the link without them, or attach the card file instead.",
        )
    return parsed


def _redirect_target(url: httpx.URL, response: httpx.Response) -> httpx.URL:
    location = response.headers.get("location")
    if not location:
        raise _failed(f"the server answered {response.status_code} without saying where to")
    try:
        target = url.join(location)
    except httpx.InvalidURL:
        raise _failed("the link redirects to something that is not a valid link") from None
    _log.debug("redirected from %s to %s", _host_port(url), _host_port(target))
    return _checked(target)


async def _read_limited(response: httpx.Response, max_bytes: int) -> bytes:
    """The body, refused as soon as its declared, its actual or its unpacked size passes
    `max_bytes`.

    We ask for no compression, but a server may compress anyway, and httpx would unpack
    each read whole: 64 KB of gzip can be 64 MB. So the raw bytes are read and unpacked
    here, never more than one byte past what still fits.
    """
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(max_bytes)
    inflater = _inflater(response.headers.get("content-encoding", ""))
    parts: list[bytes] = []
    size = 0
    async for raw in response.aiter_raw():
        try:
            part = raw if inflater is None else inflater.decompress(raw, max_bytes - size + 1)
        except zlib.error:
            raise _failed("the server sent it compressed, and damaged", _TRY_AGAIN) from None
        size += len(part)
        if size > max_bytes:
            raise _too_large(max_bytes)
        parts.append(part)
    return b"".join(parts)


def _inflater(encoding: str) -> zlib._Decompress | None:
    """What unpacks a body sent with `encoding`; None when it is sent as it is."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding not in _UNPACKED:
        raise _failed("the server sent it compressed in a way this bot cannot unpack", _TRY_AGAIN)
    return zlib.decompressobj(_GZIP_OR_ZLIB_WBITS)


def _too_large(max_bytes: int) -> UsageError:
    return _failed(
        f"it is larger than {_size(max_bytes)}, the limit",
        "Export the card with a smaller picture, or as JSON.",
    )


def _connect_problem(exc: httpx.ConnectError, where: str) -> str:
    causes = _chain(exc)
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return f"nothing answers at {where}"
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return f"the host of {where} could not be found"
    if any(isinstance(cause, ssl.SSLError) for cause in causes):
        return f"the secure connection to {where} failed"
    return f"could not reach {where}"


def _host_port(url: httpx.URL) -> str:
    """host:port for messages and logs: never the path or query, which may hold a token."""
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{host}:{url.port or _DEFAULT_PORTS.get(url.scheme, 0)}"


def _size(limit: int) -> str:
    for unit, scale in (("MB", 1024 * 1024), ("KB", 1024)):
        if limit >= scale:
            return f"{limit / scale:.3g} {unit}"
    return f"{limit} bytes"
