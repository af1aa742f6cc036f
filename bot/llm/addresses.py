"""Which addresses the endpoint guard refuses, and why: metadata, link-local, private ranges,
and IPv4 addresses hidden inside IPv6 ones.

Pure; knows nothing of DNS, sockets or URLs (guard.py does the resolving and connecting).
"""

from __future__ import annotations

from collections.abc import Iterator
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import TypeAlias

IPAddress: TypeAlias = IPv4Address | IPv6Address


def _networks(table: dict[str, str]) -> tuple[tuple[IPv4Network | IPv6Network, str], ...]:
    return tuple(
        (ip_network(net), reason) for reason, nets in table.items() for net in nets.split()
    )


# Never reachable from a chat-set endpoint, whatever the operator allows. Multicast is checked
# with `is_multicast` as well: `is_global` is True for 224.0.0.1 on every CPython we measured.
_METADATA = frozenset(
    ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_NEVER = _networks(
    {
        "unspecified": "0.0.0.0/8 ::/128",
        "link-local": "169.254.0.0/16 fe80::/10",
        "multicast": "224.0.0.0/4 ff00::/8",
        "reserved or broadcast": "240.0.0.0/4",
    }
)
# Reachable only when the operator allows private endpoints. The rows from "deprecated" on
# close gaps in Python 3.11's `is_global`, which calls those networks global (measured with
# CPython 3.11 to 3.13).
_PRIVATE = _networks(
    {
        "loopback": "127.0.0.0/8 ::1/128",
        "private": "10.0.0.0/8 172.16.0.0/12 192.168.0.0/16",
        "shared address space (CGNAT)": "100.64.0.0/10",
        "unique-local": "fc00::/7",
        "benchmarking": "198.18.0.0/15",
        "IETF protocol assignments": "192.0.0.0/24",
        "deprecated": "192.88.99.0/24 ::/96 fec0::/10",
        "IPv6 transition (6to4, Teredo, local NAT64)": "2002::/16 2001::/32 64:ff9b:1::/48",
        "documentation": "3fff::/20",
    }
)
# IPv6 outside these is not public unicast (5f00::/16, 100::/64 … are "global" to Python 3.11).
_PUBLIC_IPV6 = (ip_network("2000::/3"), ip_network("64:ff9b::/96"))
_NAT64 = ip_network("64:ff9b::/96")
_LOCAL_NAT64 = ip_network("64:ff9b:1::/48")
_IPV4_COMPATIBLE = ip_network("::/96")


def address_refusal(ip: IPAddress, *, allow_private: bool) -> str | None:
    """Why `ip` may not be reached (for the log, never for users), or None when it may.

    An IPv4 address embedded in IPv6 (mapped, 6to4, Teredo, NAT64, IPv4-compatible) is judged
    too, so that `::ffff:169.254.169.254` or `64:ff9b::a9fe:a9fe` is as refused as the original.
    """
    if isinstance(ip, IPv6Address):
        reason = _embedded_refusal(ip, allow_private=allow_private)
        if reason is not None or ip.ipv4_mapped is not None:
            return reason  # on the wire a mapped address is the IPv4 address just judged
    reason = _never_reason(ip)
    if reason is None and not allow_private:
        reason = _private_reason(ip)
    return reason


def _embedded_refusal(ip: IPv6Address, *, allow_private: bool) -> str | None:
    for kind, embedded in _embedded_ipv4(ip):
        reason = address_refusal(embedded, allow_private=allow_private)
        if reason is not None:
            return f"{reason} inside {kind}"
    return None


def _never_reason(ip: IPAddress) -> str | None:
    if ip in _METADATA:
        return "cloud metadata"
    for network, reason in _NEVER:
        if ip in network:
            return reason
    if ip.is_multicast or ip.is_link_local or ip.is_unspecified:
        return "multicast, link-local or unspecified"
    return None


def _private_reason(ip: IPAddress) -> str | None:
    for network, reason in _PRIVATE:
        if ip in network:
            return reason
    if isinstance(ip, IPv6Address) and not any(ip in network for network in _PUBLIC_IPV6):
        return "not public IPv6 unicast"
    return None if ip.is_global else "not globally reachable"


def _embedded_ipv4(ip: IPv6Address) -> Iterator[tuple[str, IPv4Address]]:
    if ip.ipv4_mapped is not None:
        yield "IPv4-mapped", ip.ipv4_mapped
    if ip.sixtofour is not None:
        yield "6to4", ip.sixtofour
    if ip.teredo is not None:
        server, client = ip.teredo
        yield "Teredo", server
        yield "Teredo", client
    if ip in _NAT64:
        yield "NAT64", IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _LOCAL_NAT64:
        # RFC 8215 leaves the prefix length to the network: try every layout RFC 6052 allows.
        for prefix_length in (48, 56, 64, 96):
            yield "local-use NAT64", _rfc6052_ipv4(ip, prefix_length)
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # `::` and `::1` are not embeddings
        yield "IPv4-compatible", IPv4Address(int(ip) & 0xFFFFFFFF)


def _rfc6052_ipv4(ip: IPv6Address, prefix_length: int) -> IPv4Address:
    """The IPv4 address after a NAT64 prefix of this length, skipping the reserved bits 64-71."""
    if prefix_length == 96:
        return IPv4Address(int(ip) & 0xFFFFFFFF)
    value = int(ip)
    packed = (value >> 64) << 56 | (value & (1 << 56) - 1)  # 120 bits without the u octet
    return IPv4Address(packed >> (120 - prefix_length - 32) & 0xFFFFFFFF)
