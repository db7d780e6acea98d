"""The client's address: the connection's source, and X-Forwarded-For only from a trusted proxy (right-most
hop that is not one)."""

from __future__ import annotations

import pytest

from chalicelib.http import addresses

PROXIES, _ = addresses.parse_networks("10.0.0.0/8, 192.168.1.7/32, 2001:db8:1::/48")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        # An untrusted peer is the client, whatever it claims to forward.
        ("203.0.113.9", None, "203.0.113.9"),
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),
        ("203.0.113.9", "10.0.0.1, 1.2.3.4", "203.0.113.9"),
        # A trusted proxy: the right-most hop it or another trusted proxy did not add.
        ("10.0.0.5", "198.51.100.7", "198.51.100.7"),
        ("10.0.0.5", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client's own claim on the left is ignored
        ("10.0.0.5", "6.6.6.6, 198.51.100.7, 192.168.1.7", "198.51.100.7"),  # through two trusted proxies
        ("10.0.0.5", " 198.51.100.7 ,10.1.1.1", "198.51.100.7"),
        ("10.0.0.5", "10.1.1.1, 10.2.2.2", "10.1.1.1"),  # nothing but proxies: the farthest one
        ("10.0.0.5", None, "10.0.0.5"),  # a proxy that forwards nothing is the client as far as we know
        ("10.0.0.5", "", "10.0.0.5"),
        ("10.0.0.5", "not-an-address", "10.0.0.5"),  # garbage where a proxy writes addresses ends the walk
        ("10.0.0.5", "6.6.6.6, junk, 10.1.1.1", "10.1.1.1"),
        ("10.0.0.5", "\u0661.\u0662.\u0663.\u0664", "10.0.0.5"),  # non-ASCII digits are no address
        ("10.0.0.5", "2001:db8::2", "2001:db8::2"),
        ("2001:db8:1::1", "198.51.100.7", "198.51.100.7"),
        ("::ffff:10.0.0.5", "198.51.100.7", "198.51.100.7"),  # IPv4 seen through an IPv6 socket
        ("::ffff:203.0.113.9", "1.2.3.4", "203.0.113.9"),
        # No source address: unknown, and a header alone proves nothing.
        (None, "1.2.3.4", None),
        ("", "1.2.3.4", None),
        ("garbage", "1.2.3.4", None),
    ],
)
def test_the_client_is_the_right_most_address_no_trusted_proxy_added(
    peer: str | None, forwarded: str | None, client: str | None
) -> None:
    assert addresses.client_address(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    assert addresses.client_address("10.0.0.5", "198.51.100.7", ()) == "10.0.0.5"
    assert addresses.client_address("127.0.0.1", "198.51.100.7", ()) == "127.0.0.1"


def test_the_setting_is_a_comma_separated_cidr_list_and_bad_entries_are_reported() -> None:
    networks, invalid = addresses.parse_networks(" 10.0.0.0/8,, 2001:db8::/32 , 10.0.0.300/8, nonsense, 192.168.1.7")
    assert [str(n) for n in networks] == ["10.0.0.0/8", "2001:db8::/32", "192.168.1.7/32"]
    assert invalid == ["10.0.0.300/8", "nonsense"]
    assert addresses.parse_networks("") == ((), [])
