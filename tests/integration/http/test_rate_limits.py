"""Rate limits on the public routes, against the real table: 429 with Retry-After, per IP and device,
shared by containers, failing open, and cheap on the join's hot path."""

from __future__ import annotations

import json
import os
import random
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core import observability
from chalicelib.http import rate_limits
from chalicelib.http.rate_limits import Limiter, RateLimited
from chalicelib.http.rules import Limit, RouteClass, Scope
from chalicelib.http.store import TableCounterStore
from tests.conftest import Api, Clock, Tenant, join_body, live_campaign

WRITE_OPS = {"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"}


def _refresh() -> None:
    from chalicelib.core.config import get_settings

    get_settings.cache_clear()
    rate_limits.get_limiter.cache_clear()


@pytest.fixture
def limits(table: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Turn the limits on for one test (the session has them off), with a fresh limiter."""

    def enable(spec: str = "on") -> None:
        monkeypatch.setenv("FISSION_RATE_LIMITS", spec)
        _refresh()

    yield enable
    os.environ["FISSION_RATE_LIMITS"] = "off"
    _refresh()


@pytest.fixture
def minute_start(clock: Clock) -> Clock:
    """Put the clock 2 s into a minute, so a test's requests stay in one window."""
    now = clock()
    clock.advance(seconds=62 - now.second - now.microsecond / 1e6)
    return clock


def post_join(client: Any, cid: str, headers: dict[str, str] | None = None, **fields: Any) -> Any:
    body = join_body(cid, f"user-{uuid.uuid4().hex[:8]}", **fields)
    sent = {"Content-Type": "application/json", **(headers or {})}
    return client.http.request("POST", f"/v1/campaigns/{cid}/participants", headers=sent, body=json.dumps(body))


def test_the_31st_join_from_one_ip_in_a_minute_is_refused_until_the_next(
    client: Any, api: Api, tenant: Tenant, limits: Callable[[str], None], client_ip: Any, minute_start: Clock
) -> None:
    cid = live_campaign(api, tenant)
    limits("on")
    for _ in range(30):
        assert post_join(client, cid).status_code == 201
    refused = post_join(client, cid)
    assert refused.status_code == 429
    error = refused.json_body["error"]
    assert error["code"] == "RATE_LIMITED"
    retry_after = int(refused.headers["Retry-After"])
    assert error["details"] == {"scope": "ip", "limit": 30, "window_seconds": 60, "retry_after": retry_after}
    assert 1 <= retry_after <= 60
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
    assert post_join(client, cid).status_code == 429
    client_ip()  # another address is unaffected
    assert post_join(client, cid).status_code == 201
    minute_start.advance(minutes=1)
    client_ip()
    for _ in range(30):
        assert post_join(client, cid).status_code == 201


def test_the_ip_limit_resets_with_the_window(
    client: Any, api: Api, tenant: Tenant, limits: Callable[[str], None], client_ip: Any, minute_start: Clock
) -> None:
    cid = live_campaign(api, tenant)
    limits("join.ip=3/min")
    for _ in range(3):
        assert post_join(client, cid).status_code == 201
    assert post_join(client, cid).status_code == 429
    minute_start.advance(minutes=1)
    assert post_join(client, cid).status_code == 201


def test_one_device_is_limited_across_addresses(
    client: Any, api: Api, tenant: Tenant, limits: Callable[[str], None], client_ip: Any, minute_start: Clock
) -> None:
    cid = live_campaign(api, tenant)
    limits("on")
    device = f"dev-{uuid.uuid4().hex}"
    for i in range(10):
        client_ip()
        # The body's device_id and the X-Device-Id header name the same device.
        sent = post_join(client, cid, device_id=device) if i % 2 else post_join(client, cid, {"X-Device-Id": device})
        assert sent.status_code == 201, sent.json_body
    client_ip()
    refused = post_join(client, cid, device_id=device)
    assert refused.status_code == 429
    assert refused.json_body["error"]["details"]["scope"] == "device"
    assert post_join(client, cid, device_id=f"dev-{uuid.uuid4().hex}").status_code == 201
    assert post_join(client, cid, device_id=["not", "a", "string"]).status_code == 422  # the route validates


def test_health_and_admin_are_never_limited(
    api: Api, tenant: Tenant, limits: Callable[[str], None], client_ip: Any
) -> None:
    limits("read.ip=1/min")
    for _ in range(5):
        assert api.call("GET", "/v1/health")[0] in (200, 503)
        assert api.call("GET", "/v1/admin/campaigns", token=tenant.owner_token)[0] == 200


def test_two_containers_share_the_limit_within_the_documented_overshoot(table: str) -> None:
    limit, threshold = 100, 20
    fleet = [
        Limiter(TableCounterStore(), (Limit(RouteClass.JOIN, Scope.IP, limit, 60),), threshold=threshold, max_age=1.0)
        for _ in range(2)
    ]
    ip = f"192.0.2.{random.randrange(1, 255)}-{uuid.uuid4().hex}"
    now = datetime.now(UTC).replace(second=5, microsecond=0)
    admitted = 0
    for _ in range(150):
        for container in fleet:
            try:
                container.check(RouteClass.JOIN, {Scope.IP: ip}, now)
                admitted += 1
            except RateLimited:
                pass
    assert limit <= admitted <= limit + (len(fleet) - 1) * (threshold - 1)

    from chalicelib.core.config import get_settings
    from chalicelib.table import db, keys

    start = int(now.timestamp()) // 60 * 60
    item = db.dynamodb_client().get_item(
        TableName=get_settings().table_name,
        Key={
            "PK": {"S": keys.rate_counter_pk("ip", rate_limits.subject_hash(Scope.IP, ip))},
            "SK": {"S": keys.rate_window_sk(60, start)},
        },
        ConsistentRead=True,
    )["Item"]
    assert int(item["n"]["N"]) >= limit
    assert int(item["expires_at"]["N"]) == start + 60 + 3600
    assert ip not in json.dumps(item)


def test_a_failing_store_never_takes_the_api_down(
    client: Any,
    api: Api,
    tenant: Tenant,
    limits: Callable[[str], None],
    client_ip: Any,
    minute_start: Clock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cid = live_campaign(api, tenant)
    limits("join.ip=25/min,join.device=0/min")

    def throttled(*_: Any, **__: Any) -> int:
        raise RuntimeError("ProvisionedThroughputExceededException")

    monkeypatch.setattr(TableCounterStore, "add", throttled)
    errors: list[str] = []
    monkeypatch.setattr(observability.metrics, "add_metric", lambda name, unit, value: errors.append(name))
    for _ in range(25):
        assert post_join(client, cid).status_code == 201
    assert "RateLimiterErrors" in errors

    def broken(*_: Any) -> str:  # anything else failing inside the limiter also lets requests through
        raise RuntimeError("keyring unavailable")

    monkeypatch.setattr(rate_limits, "subject_hash", broken)
    for _ in range(5):
        assert post_join(client, cid).status_code == 201


def test_a_busy_ip_adds_few_writes_to_the_join(
    client: Any, api: Api, tenant: Tenant, limits: Callable[[str], None], client_ip: Any, minute_start: Clock
) -> None:
    """The join's hot path is one synchronous write; the limiter adds about windows / threshold."""
    from chalicelib.table import db
    from chalicelib.table.models import ALL_MODELS

    cid = live_campaign(api, tenant)
    limits("join.ip=1000/min,join.ip=10000/day")
    assert post_join(client, cid).status_code == 201  # warm caches
    ops: list[str] = []

    def count(model: Any, **_: Any) -> None:
        ops.append(model.name)

    clients = {id(c): c for c in [m._get_connection().connection.client for m in ALL_MODELS] + [db.dynamodb_client()]}
    for botocore_client in clients.values():
        botocore_client.meta.events.register("before-call.dynamodb", count)
    try:
        joins = 200
        for _ in range(joins):
            assert post_join(client, cid).status_code == 201
    finally:
        for botocore_client in clients.values():
            botocore_client.meta.events.unregister("before-call.dynamodb", count)
    writes = sum(1 for op in ops if op in WRITE_OPS)
    assert writes / joins <= 1.05, writes / joins


def test_retry_after_counts_down_to_the_window_end(
    client: Any, api: Api, tenant: Tenant, limits: Callable[[str], None], client_ip: Any, minute_start: Clock
) -> None:
    cid = live_campaign(api, tenant)
    limits("join.ip=1/min")
    assert post_join(client, cid).status_code == 201
    minute_start.advance(seconds=40)  # about 42 s into the minute
    refused = post_join(client, cid)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60 - 40
    assert timedelta(seconds=int(refused.headers["Retry-After"])) <= timedelta(seconds=20)
