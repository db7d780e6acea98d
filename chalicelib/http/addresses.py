"""The client's address: one rule for the rate limits and the fraud signals.

The connection's source address (API Gateway's `requestContext.identity.sourceIp`; the local server passes
its peer the same way) is the client's, unless that peer is one of the configured trusted proxies
(`FISSION_TRUSTED_PROXIES`, CIDRs; none by default). Only then is `X-Forwarded-For` read, from the right:
each trusted proxy appended the address it saw, so the right-most address that is not a trusted proxy is
the client. Anything further left was written by the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_networks(text: str) -> tuple[tuple[Network, ...], list[str]]:
    """The networks of a comma-separated CIDR list, and the entries that are not one."""
    networks: list[Network] = []
    invalid: list[str] = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            invalid.append(entry)
    return tuple(networks), invalid


def _address(text: str) -> Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # An IPv4 client seen by an IPv6 socket is the IPv4 client.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def _trusted(address: Address, proxies: Iterable[Network]) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(peer: str | None, forwarded_for: str | None, proxies: tuple[Network, ...]) -> str | None:
    """The client's address from the connection's `peer` and its `X-Forwarded-For` (see the module)."""
    current = _address(peer or "")
    if current is None:
        return None
    if not _trusted(current, proxies):
        return str(current)
    for hop in reversed((forwarded_for or "").split(",")):
        address = _address(hop)
        if address is None:  # a trusted proxy writes addresses; anything else ends what can be believed
            break
        current = address
        if not _trusted(address, proxies):
            break
    return str(current)
