"""Outbound requests to URLs chosen by tenants: refuse anything that could reach inside our network (SSRF).

A URL is checked for its form (http/https, a host, no credentials) and, unless private targets are allowed
(local and test stages), for where it leads: names that are internal by convention are refused, and every address
the host resolves to must be public. `open_url` resolves once, checks, connects only to the addresses it checked
(a second lookup could answer differently: DNS rebinding) and refuses redirects, since a public endpoint could
otherwise bounce the request to an internal one. Proxies from the environment are ignored: through a proxy the
checked address would not be the one reached.
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
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
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


def _blocked(address: IPAddress) -> bool:
    """True for any address that is not plainly on the public internet."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4 carried inside IPv6 is judged as the IPv4 address it reaches.
        embedded = (
            address.ipv4_mapped
            or address.sixtofour
            or (ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None)
        )
        if embedded is not None:
            return _blocked(embedded)
    return (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address in CGNAT
        or not address.is_global
    )


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
        if not allow_private and _blocked(address):
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
