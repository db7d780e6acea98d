"""Outbound requests to URLs chosen by tenants: refuse anything that could reach inside our network (SSRF).

A URL is checked for its form (http/https, a host, no credentials) and, unless private targets are allowed
(local and test stages), for where it leads: names that are internal by convention are refused, and no address
the host resolves to may lie in a special-purpose range (the IANA registries, listed below). `open_url` resolves
once, checks, connects only to the addresses it checked (a second lookup could answer differently: DNS rebinding)
and refuses redirects, since a public endpoint could otherwise bounce the request to an internal one. Proxies
from the environment are ignored: through a proxy the checked address would not be the one reached.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import IO, Any, NoReturn
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

SCHEMES = frozenset({"http", "https"})

# The ranges refused, spelt out rather than asked of `ipaddress` (`is_private`, `is_global`...), whose answers
# change between Python releases (3.12.1 calls 192.0.0.192, a cloud metadata address, public). They are the
# IANA IPv4 and IPv6 Special-Purpose Address Registries, every entry, globally reachable or not (no outbound
# webhook has any business with an anycast relay either), and the multicast ranges. docs/operations.md lists
# them. IPv4 carried inside IPv6 (mapped, NAT64 well-known prefix, 6to4) is judged as the IPv4 address.
SPECIAL_IPV4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network" (RFC 791); 0.0.0.0/32 "this host"
        "10.0.0.0/8",  # private use (RFC 1918)
        "100.64.0.0/10",  # shared address space, CGNAT (RFC 6598); holds the 100.100.100.200 metadata address
        "127.0.0.0/8",  # loopback (RFC 1122)
        "169.254.0.0/16",  # link local (RFC 3927); 169.254.169.254 is the metadata service
        "172.16.0.0/12",  # private use (RFC 1918)
        "192.0.0.0/24",  # IETF protocol assignments (RFC 6890): 192.0.0.0/29, .8, .9, .10, .170, .171, .192
        "192.0.2.0/24",  # documentation, TEST-NET-1 (RFC 5737)
        "192.31.196.0/24",  # AS112-v4 (RFC 7535)
        "192.52.193.0/24",  # AMT (RFC 7450)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast (RFC 7526)
        "192.168.0.0/16",  # private use (RFC 1918)
        "192.175.48.0/24",  # direct delegation AS112 service (RFC 7534)
        "198.18.0.0/15",  # benchmarking (RFC 2544)
        "198.51.100.0/24",  # documentation, TEST-NET-2 (RFC 5737)
        "203.0.113.0/24",  # documentation, TEST-NET-3 (RFC 5737)
        "224.0.0.0/4",  # multicast (RFC 5771)
        "240.0.0.0/4",  # reserved (RFC 1112)
        "255.255.255.255/32",  # limited broadcast (RFC 919), inside 240.0.0.0/4 but listed by IANA on its own
    )
)
SPECIAL_IPV6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::/128",  # unspecified (RFC 4291)
        "::1/128",  # loopback (RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291): judged by the IPv4 address
        "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052): judged by the IPv4 address
        "64:ff9b:1::/48",  # NAT64 local-use prefix (RFC 8215): local by definition, refused whatever it embeds
        "100::/64",  # discard-only (RFC 6666)
        "100:0:0:1::/64",  # dummy IPv6 prefix
        "2001::/23",  # IETF protocol assignments (RFC 2928): Teredo, PCP/TURN anycast, benchmarking, AMT, ORCHID...
        "2001:db8::/32",  # documentation (RFC 3849)
        "2002::/16",  # 6to4 (RFC 3056): judged by the IPv4 address
        "2620:4f:8000::/48",  # direct delegation AS112 service (RFC 7534)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # segment routing SIDs (RFC 9602)
        "fc00::/7",  # unique local (RFC 4193); fd00:ec2::254 is the metadata service over IPv6
        "fe80::/10",  # link-local unicast (RFC 4291)
        "ff00::/8",  # multicast (RFC 4291)
    )
)
# Only global unicast space is assigned for use on the internet; the rest of IPv6 (the IPv4-compatible ::/96,
# the old site-local fec0::/10, ...) is refused wholesale, so an unlisted corner cannot slip through.
GLOBAL_UNICAST_IPV6 = ipaddress.IPv6Network("2000::/3")
_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
INTERNAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")


class EgressRefused(ValueError):
    """The URL may not be requested from here; the message says why."""


@dataclass(frozen=True)
class Target:
    """A checked destination: the host as written, its port, and the addresses it may be reached at."""

    host: str
    port: int
    addresses: tuple[str, ...]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv4-mapped, NAT64 (well-known prefix) or 6to4 address leads to."""
    if address in _MAPPED or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(address) >> 80) & 0xFFFFFFFF)
    return None


def blocked(address: IPAddress) -> bool:
    """True for any address in a special-purpose range (see SPECIAL_IPV4 and SPECIAL_IPV6)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return blocked(embedded)
        return address not in GLOBAL_UNICAST_IPV6 or any(address in net for net in SPECIAL_IPV6)
    return any(address in net for net in SPECIAL_IPV4)


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _parse(url: str) -> tuple[str, int]:
    """The host and port of a well-formed http(s) URL without credentials."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise EgressRefused(f"malformed url: {exc}") from None
    if parts.scheme not in SCHEMES:
        raise EgressRefused("only http and https urls may be requested")
    if "@" in parts.netloc or parts.username is not None or parts.password is not None:
        raise EgressRefused("the url may not carry credentials")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise EgressRefused("the url has no host")
    return host, port or (443 if parts.scheme == "https" else 80)


def _check_name(host: str) -> None:
    if _literal(host) is not None:
        return
    if host in INTERNAL_NAMES or host.endswith(INTERNAL_SUFFIXES):
        raise EgressRefused(f"{host} is an internal host name")
    if "." not in host:
        raise EgressRefused(f"{host} is not a fully qualified host name")


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check the URL and resolve its host once; every address must pass, or none is used."""
    host, port = _parse(url)
    if not allow_private:
        _check_name(host)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise EgressRefused(f"{host} does not resolve: {exc}") from None
    addresses: list[str] = []
    for *_, sockaddr in found:
        ip = str(sockaddr[0])
        address = _literal(ip.split("%", 1)[0])
        if address is None:
            raise EgressRefused(f"{host} resolved to an unexpected address {ip!r}")
        if not allow_private and blocked(address):
            raise EgressRefused(f"{host} resolves to a non-public address {address}")
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise EgressRefused(f"{host} does not resolve")
    return Target(host, port, tuple(addresses))


def check_url(url: str, *, allow_private: bool) -> None:
    """Raise `EgressRefused` unless the URL may be requested (see the module's docstring).

    Where private targets are allowed only the form is checked: no lookup, so a name that does not resolve
    yet (or an offline machine) is no reason to refuse.
    """
    if allow_private:
        _parse(url)
    else:
        resolve(url, allow_private=False)


def _connect(addresses: tuple[str, ...], port: int, timeout: float | None) -> socket.socket:
    """Like `socket.create_connection`, but only to addresses that were checked."""
    last: OSError | None = None
    for ip in addresses:
        try:
            return socket.create_connection((ip, port), timeout)
        except OSError as exc:
            last = exc
    raise last or OSError("no address to connect to")


def _pinned(host: str, target: Target) -> Callable[..., socket.socket]:
    """The connection factory for `HTTPConnection`: it reaches only the checked addresses, whatever DNS says now."""
    if host.rstrip(".").lower() != target.host:
        raise EgressRefused(f"{host} is not the checked host {target.host}")

    def create(address: tuple[str, int], timeout: float | None = None, *_: Any) -> socket.socket:
        return _connect(target.addresses, address[1], timeout)

    return create


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, /, *, target: Target, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._create_connection = _pinned(self.host, target)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """TLS over the pinned connection; the certificate is still verified against the host name."""

    def __init__(self, host: str, /, *, target: Target, **kwargs: Any) -> None:
        super().__init__(host, **kwargs)
        self._create_connection = _pinned(self.host, target)


class _PinnedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, target: Target) -> None:
        super().__init__()
        self._target = target

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_PinnedHTTPConnection, target=self._target), req)


class _PinnedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, target: Target) -> None:
        self._ssl = ssl.create_default_context()
        super().__init__(context=self._ssl)
        self._target = target

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(partial(_PinnedHTTPSConnection, target=self._target), req, context=self._ssl)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an error: its target was never checked."""

    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Any, newurl: str
    ) -> NoReturn:
        fp.close()
        raise EgressRefused(f"redirect ({code}) refused")


def open_url(request: urllib.request.Request, timeout: float, allow_private: bool) -> http.client.HTTPResponse:
    """Open the request after checking its URL; the caller closes the response (it is a context manager)."""
    target = resolve(request.full_url, allow_private=allow_private)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), _NoRedirect(), _PinnedHTTPHandler(target), _PinnedHTTPSHandler(target)
    )
    response = opener.open(request, timeout=timeout)
    if not isinstance(response, http.client.HTTPResponse):  # pragma: no cover - only http(s) handlers are installed
        response.close()
        raise EgressRefused("unexpected response type")
    return response
