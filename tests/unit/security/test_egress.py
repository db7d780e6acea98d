"""The egress guard: URLs that could reach inside the network are refused before any connection is made."""

from __future__ import annotations

import io
import ipaddress
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import Any

import pytest

from chalicelib.security import egress

AddrInfo = list[tuple[Any, ...]]


def answers(*ips: str) -> Callable[..., AddrInfo]:
    """A getaddrinfo that answers every name with these addresses."""

    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> AddrInfo:
        out: AddrInfo = []
        for ip in ips:
            family = socket.AF_INET6 if ":" in ip else socket.AF_INET
            sockaddr = (ip, port, 0, 0) if family == socket.AF_INET6 else (ip, port)
            out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
        return out

    return getaddrinfo


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    def set_answers(*ips: str) -> None:
        monkeypatch.setattr(socket, "getaddrinfo", answers(*ips))

    set_answers("93.184.216.34")
    return set_answers


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "gopher://example.com/",
        "https:///path",
        "https://user:pw@example.com/hook",
        "https://user@example.com/hook",
        "https://example.com:99999/hook",
    ],
)
def test_malformed_urls_are_refused_in_every_stage(dns: Callable[..., None], url: str) -> None:
    for allow_private in (False, True):
        with pytest.raises(egress.EgressRefused):
            egress.check_url(url, allow_private=allow_private)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1", "172.16.5.4", "192.168.1.1", "127.0.0.1", "169.254.169.254", "0.0.0.0", "224.0.0.1",
        "240.0.0.1", "100.64.0.1", "100.127.255.254", "::1", "::", "fe80::1", "fc00::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:169.254.169.254", "64:ff9b::a9fe:a9fe",
        "2002:a00:1::1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_refused(dns: Callable[..., None], address: str) -> None:
    host = f"[{address}]" if ":" in address else address
    dns(address)
    with pytest.raises(egress.EgressRefused, match="non-public"):
        egress.check_url(f"https://{host}/hook", allow_private=False)
    with pytest.raises(egress.EgressRefused, match="non-public"):
        egress.check_url("https://hooks.example.com/hook", allow_private=False)  # a public name, a private answer
    egress.check_url(f"http://{host}/hook", allow_private=True)


def test_one_private_answer_among_public_ones_is_enough_to_refuse(dns: Callable[..., None]) -> None:
    dns("93.184.216.34", "10.0.0.7")
    with pytest.raises(egress.EgressRefused, match="10.0.0.7"):
        egress.check_url("https://hooks.example.com/", allow_private=False)


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST.", "api.localhost", "printer.local", "metadata.google.internal", "intranet"]
)
def test_internal_host_names_are_refused_without_a_lookup(monkeypatch: pytest.MonkeyPatch, host: str) -> None:
    def no_lookup(*args: Any, **kwargs: Any) -> AddrInfo:
        raise AssertionError("looked up")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    with pytest.raises(egress.EgressRefused, match="host name"):
        egress.check_url(f"https://{host}/hook", allow_private=False)
    egress.check_url(f"http://{host}/hook", allow_private=True)  # form only: local stages need no DNS


def test_public_hosts_pass_and_unresolvable_ones_are_refused(
    monkeypatch: pytest.MonkeyPatch, dns: Callable[..., None]
) -> None:
    egress.check_url("https://hooks.example.com/x", allow_private=False)
    egress.check_url("http://93.184.216.34:8080/x", allow_private=False)
    dns("2606:2800:220:1:248:1893:25c8:1946")
    egress.check_url("https://hooks.example.com/x", allow_private=False)

    def fail(*args: Any, **kwargs: Any) -> AddrInfo:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail)
    with pytest.raises(egress.EgressRefused, match="does not resolve"):
        egress.check_url("https://nowhere.example.com/x", allow_private=False)


def test_resolve_returns_the_checked_addresses_and_port(dns: Callable[..., None]) -> None:
    dns("93.184.216.34", "93.184.216.35", "93.184.216.34")
    target = egress.resolve("https://Hooks.Example.com./x", allow_private=False)
    assert target == egress.Target("hooks.example.com", 443, ("93.184.216.34", "93.184.216.35"))
    assert egress.resolve("http://hooks.example.com/x", allow_private=False).port == 80


def test_open_url_connects_only_to_the_checked_address(
    monkeypatch: pytest.MonkeyPatch, dns: Callable[..., None]
) -> None:
    """The name is resolved once; the socket goes to that address even if DNS would answer differently now."""
    dialled: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        dialled.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    request = urllib.request.Request("http://hooks.example.com:8080/x", data=b"{}", method="POST")
    with pytest.raises(urllib.error.URLError):
        egress.open_url(request, 1.0, allow_private=False)
    assert dialled == [("93.184.216.34", 8080)]

    dns("10.0.0.1")
    with pytest.raises(egress.EgressRefused):
        egress.open_url(request, 1.0, allow_private=False)
    assert len(dialled) == 1  # refused before any connection


def test_open_url_ignores_proxies_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, dns: Callable[..., None]
) -> None:
    monkeypatch.setenv("http_proxy", "http://proxy.example.com:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example.com:3128")
    dialled: list[tuple[str, int]] = []

    def create_connection(address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        dialled.append(address)
        raise ConnectionRefusedError("test: no network")

    monkeypatch.setattr(socket, "create_connection", create_connection)
    with pytest.raises(urllib.error.URLError):
        egress.open_url(urllib.request.Request("http://hooks.example.com/x"), 1.0, allow_private=False)
    assert dialled == [("93.184.216.34", 80)]


def test_redirects_are_refused() -> None:
    handler = egress._NoRedirect()
    body = io.BytesIO(b"moved")
    request = urllib.request.Request("https://hooks.example.com/x", data=b"{}", method="POST")
    with pytest.raises(egress.EgressRefused, match="redirect"):
        handler.redirect_request(request, body, 302, "Found", Message(), "http://169.254.169.254/latest/meta-data")
    assert body.closed


# -- the special-purpose ranges, address by address ------------------------------------------------------------


def _edges(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
    """The first, a middle and the last address of a range."""
    return sorted({str(net[0]), str(net[net.num_addresses // 2]), str(net[-1])})


# Each registry entry, at its edges; the IPv4 carried by mapped, NAT64 and 6to4 addresses is judged on its own.
SPECIAL = sorted(
    {addr for net in egress.SPECIAL_IPV4 for addr in _edges(net)}
    | {addr for net in egress.SPECIAL_IPV6 if net not in (egress._MAPPED, egress._NAT64, egress._SIX_TO_FOUR)
       for addr in _edges(net)}
)  # fmt: skip
CLOUD_METADATA = [
    "169.254.169.254", "192.0.0.192", "100.100.100.200", "fd00:ec2::254", "::ffff:169.254.169.254",
    "::ffff:192.0.0.192", "64:ff9b::a9fe:a9fe", "64:ff9b::c000:c0", "2002:a9fe:a9fe::1", "2002:c000:c0::",
    "64:ff9b:1::808:808", "::a9fe:a9fe", "::8.8.8.8", "fec0::1", "2001::1", "2001:db8::1", "3fff::1",
]  # fmt: skip
PUBLIC = [
    "93.184.216.34", "8.8.8.8", "1.1.1.1", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0",
    "192.0.1.0", "192.88.98.255", "198.17.255.255", "198.20.0.0", "223.255.255.255", "2606:4700::1111",
    "2a00:1450:4001::1", "2001:200::1", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
]  # fmt: skip


@pytest.mark.parametrize("address", SPECIAL + CLOUD_METADATA)
def test_every_special_purpose_address_is_refused(dns: Callable[..., None], address: str) -> None:
    assert egress.blocked(ipaddress.ip_address(address))
    dns(address)
    with pytest.raises(egress.EgressRefused, match="non-public"):
        egress.check_url("https://hooks.example.com/hook", allow_private=False)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_next_to_the_ranges_pass(dns: Callable[..., None], address: str) -> None:
    assert not egress.blocked(ipaddress.ip_address(address))
    dns(address)
    egress.check_url("https://hooks.example.com/hook", allow_private=False)


def test_the_decision_does_not_depend_on_what_python_calls_private(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python releases disagree about `is_private` and `is_global`; the guard never asks them."""
    for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        for name in ("is_private", "is_global", "is_reserved", "is_loopback", "is_link_local", "is_multicast",
                     "is_unspecified", "is_site_local"):  # fmt: skip
            if hasattr(cls, name):
                monkeypatch.setattr(cls, name, property(lambda self: pytest.fail("asked ipaddress")))
    assert all(egress.blocked(ipaddress.ip_address(a)) for a in SPECIAL + CLOUD_METADATA)
    assert not any(egress.blocked(ipaddress.ip_address(a)) for a in PUBLIC)
