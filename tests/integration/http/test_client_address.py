"""One client address for the rate limits and the fraud signals: a spoofed X-Forwarded-For from an untrusted
peer changes neither; from a configured trusted proxy, the right-most hop that is not a proxy is the client."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from chalice.local import LambdaEventConverter

from chalicelib.http import rate_limits
from tests.conftest import Api, Clock, Tenant, live_campaign
from tests.integration.http.test_rate_limits import post_join


def _refresh() -> None:
    from chalicelib.core.config import get_settings

    get_settings.cache_clear()
    rate_limits.get_limiter.cache_clear()


@pytest.fixture
def settings(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Set FISSION_* settings for one test; the session's come back after it."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"FISSION_{name.upper()}", value)
        _refresh()

    yield apply
    monkeypatch.undo()
    os.environ["FISSION_RATE_LIMITS"] = "off"
    _refresh()


def _address() -> str:
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture
def peer(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Make the test client's requests come from an address (the connection's source)."""

    def connect_from(ip: str) -> None:
        monkeypatch.setattr(LambdaEventConverter, "LOCAL_SOURCE_IP", ip)

    return connect_from


@pytest.fixture
def minute_start(clock: Clock) -> Clock:
    now = clock()
    clock.advance(seconds=62 - now.second - now.microsecond / 1e6)
    return clock


def ip_hash(table: str, code: str) -> str | None:
    """The address hash the fraud signals judge a participant by, as stored."""
    from chalicelib.table import db

    key = {"PK": {"S": f"P#{code}"}, "SK": {"S": "META"}}
    item = db.dynamodb_client().get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    return item["ip_hash"]["S"] if "ip_hash" in item else None


def joined(response: Any) -> str:
    assert response.status_code == 201, response.json_body
    return str(response.json_body["invite_code"])


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_no_rate_limit_key(
    client: Any, api: Api, tenant: Tenant, settings: Callable[..., None], peer: Callable[[str], None],
    minute_start: Clock,
) -> None:  # fmt: skip
    cid = live_campaign(api, tenant)
    settings(rate_limits="join.ip=3/min")
    peer(_address())
    for n in range(3):
        joined(post_join(client, cid, {"X-Forwarded-For": f"198.51.100.{n + 1}"}))
    refused = post_join(client, cid, {"X-Forwarded-For": "198.51.100.99"})
    assert refused.status_code == 429, refused.json_body
    assert refused.json_body["error"]["details"]["scope"] == "ip"


def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_no_fraud_signal_address(
    client: Any, api: Api, tenant: Tenant, settings: Callable[..., None], peer: Callable[[str], None], table: str
) -> None:
    cid = live_campaign(api, tenant)
    settings(trusted_proxies="")
    peer(_address())
    first = joined(post_join(client, cid, {"X-Forwarded-For": "198.51.100.1"}))
    second = joined(post_join(client, cid, {"X-Forwarded-For": "198.51.100.2"}))
    third = joined(post_join(client, cid))
    assert ip_hash(table, first) is not None
    assert ip_hash(table, first) == ip_hash(table, second) == ip_hash(table, third)


def test_behind_a_trusted_proxy_the_right_most_untrusted_hop_is_the_client(
    client: Any, api: Api, tenant: Tenant, settings: Callable[..., None], peer: Callable[[str], None],
    minute_start: Clock, table: str,
) -> None:  # fmt: skip
    cid = live_campaign(api, tenant)
    proxy = _address()
    settings(rate_limits="join.ip=3/min", trusted_proxies=f"{proxy}/32,192.168.0.0/16")
    peer(proxy)
    # Three clients through the proxy: each has its own allowance, whatever the client wrote on the left.
    client_a = joined(post_join(client, cid, {"X-Forwarded-For": "6.6.6.6, 198.51.100.1"}))
    client_b = joined(post_join(client, cid, {"X-Forwarded-For": "6.6.6.6, 198.51.100.2, 192.168.3.4"}))
    for _ in range(2):
        joined(post_join(client, cid, {"X-Forwarded-For": "198.51.100.1"}))
    refused = post_join(client, cid, {"X-Forwarded-For": "7.7.7.7, 198.51.100.1"})  # the 4th from 198.51.100.1
    assert refused.status_code == 429, refused.json_body
    joined(post_join(client, cid, {"X-Forwarded-For": "198.51.100.3"}))
    # The fraud signals see the same clients: the address is 198.51.100.1 whichever way it arrived.
    peer("198.51.100.1")
    settings(rate_limits="off")
    direct = joined(post_join(client, cid))
    assert ip_hash(table, client_a) == ip_hash(table, direct) != ip_hash(table, client_b)
