"""Repairs the base URLs people paste, and says what was changed and why.

Pure text: the probe that decides whether `/v1` is missing is the service's job.
Where we differ from SillyTavern (which uses the URL as typed): a pasted
`/chat/completions` is removed instead of doubled, a missing `/v1` is found, and a
missing scheme is added (`localhost:8080` is the commonest paste).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit, urlunsplit

from bot.core.errors import UsageError

MAX_BASE_URL_CHARS = 2048
_PASTED_SUFFIXES = ("/chat/completions", "/completions", "/models")
_VERSION_SEGMENT = re.compile(r"/v\d+[a-z0-9]*(?:/|$)", re.IGNORECASE)
# A scheme, as in "https:" or "mailto:"; "localhost:8080" is a host and its port instead.
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*:(?!\d)", re.IGNORECASE)
# Names that only a local network resolves (RFC 6761, 6762, 8375, and common LAN habits).
_LOCAL_SUFFIXES = (".localhost", ".local", ".lan", ".internal", ".home", ".home.arpa")


@dataclass(frozen=True, slots=True)
class RepairedUrl:
    url: str
    changes: tuple[str, ...] = ()


def repair_base_url(raw: str) -> RepairedUrl:
    """The URL we will use, or UsageError saying what is wrong with it.

    Credentials in the URL would be echoed by HTTP libraries' error texts, and a
    query string is where people paste keys, so both are refused rather than fixed.
    """
    url = raw.strip().strip("<>").strip()  # Discord users paste <url> to stop embeds
    if len(url) > MAX_BASE_URL_CHARS:
        raise UsageError(f"That base URL is longer than {MAX_BASE_URL_CHARS} characters.")
    if any(char.isspace() or not char.isprintable() for char in url):
        # Often a mistyped option glued on ("… key:sk-…"): never store or echo it.
        raise UsageError(
            "The base URL must not contain spaces; check the option names "
            "(the key goes in api_key:). Nothing was stored."
        )
    url, added = _with_scheme(url)
    try:
        parts = urlsplit(url)
        _ = parts.port  # reading it raises ValueError for a port that is not a number
    except ValueError:
        raise UsageError(
            "That base URL can't be read; it should look like http://host:8080/v1"
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            "The base URL must start with http:// or https:// and name a host, "
            "e.g. http://host:8080/v1"
        )
    if parts.username or parts.password:
        raise UsageError(
            "Put the key in api_key:, not in the URL; the URL must not contain user:password@."
        )
    if parts.query or parts.fragment:
        raise UsageError(
            "The base URL must not have a ?query or #fragment; put a key in api_key: instead."
        )
    changes: list[str] = []
    if added:
        changes.append(added)
    elif not url.startswith(f"{scheme}://"):  # urlsplit has lower-cased it already
        changes.append(f"wrote the scheme as {scheme}://")
    path = parts.path.rstrip("/")
    for suffix in _PASTED_SUFFIXES:
        if path.lower().endswith(suffix):
            path = path[: -len(suffix)].rstrip("/")
            changes.append(f"removed {suffix} (Parlor adds the endpoint path itself)")
            break
    repaired = urlunsplit((scheme, parts.netloc.lower(), path, "", ""))
    return RepairedUrl(repaired, tuple(changes))


def _with_scheme(url: str) -> tuple[str, str]:
    """The URL with a scheme, and the change to report when one was added ("" if none).

    Our choice, since nothing can tell for sure: https:// for a public domain name with
    no port (or 443), where cloud APIs live; http:// for everything else (loopback and
    private addresses, local names, single-label hosts, any host:port), where local
    servers listen without TLS. Typing a scheme always wins over the guess.
    """
    if _SCHEME.match(url):
        return url, ""
    try:
        parts = urlsplit(f"//{url}")
        host, port = parts.hostname or "", parts.port
    except ValueError:  # the normal checks will say what is wrong with it
        return f"http://{url}", ""
    if _public_domain(host) and port in (None, 443):
        return f"https://{url}", (
            "added https:// (a public host name usually needs it; write http:// yourself "
            "if the server speaks plain http)"
        )
    return f"http://{url}", (
        "added http:// (a local address or a host:port usually speaks plain http; "
        "write https:// yourself if it needs TLS)"
    )


def _public_domain(host: str) -> bool:
    """A dotted name outside the local-only suffixes; never an IP literal."""
    try:
        ip_address(host)
    except ValueError:
        pass
    else:
        return False
    return "." in host.strip(".") and not host.endswith(_LOCAL_SUFFIXES)


def has_version_segment(url: str) -> bool:
    """Whether the path already names an API version (/v1, /v1beta, /v4/…)."""
    return bool(_VERSION_SEGMENT.search(urlsplit(url).path + "/"))


def probe_candidates(url: str) -> tuple[str, ...]:
    """Where to look for `/models`: as given, then with `/v1` when no version is in the path."""
    if has_version_segment(url):
        return (url,)
    return (url, f"{url}/v1")
