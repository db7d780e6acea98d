"""Outbound webhooks: events queued once through the outbox, signed deliveries, retries with backoff, dead letters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Clock, Tenant, standard_secret, verify_delivery
from tests.integration.modes.test_group_buy import group_campaign, join_group, open_group, participant


class Receiver:
    """A local endpoint that records every request, verifies each as a Standard Webhooks receiver holding `secret`
    would (with the reference library), and answers with a fixed status. `close()` fails the test if any request
    did not verify."""

    def __init__(self, status: int, secret: str, location: str | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failures: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    verify_delivery(secret, headers, body)
                except Exception as exc:  # noqa: BLE001 - reported by close(), on the test's thread
                    receiver.failures.append(f"{headers.get('webhook-id')}: {exc!r}")
                receiver.requests.append((headers, body))
                self.send_response(status)
                if location is not None:
                    self.send_header("Location", location)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        assert not self.failures, self.failures
        return [json.loads(body) for _, body in self.requests]

    def close(self) -> None:
        self.server.shutdown()
        assert not self.failures, f"deliveries that do not verify with the tenant's whsec_ secret: {self.failures}"


@pytest.fixture
def receivers(tenant: Tenant) -> Iterator[tuple[Receiver, Receiver]]:
    healthy, failing = Receiver(200, standard_secret(tenant.tid)), Receiver(500, standard_secret(tenant.tid))
    yield healthy, failing
    healthy.close()
    failing.close()


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Names to answer with a fixed address (set or change them in the test); every other name resolves as usual."""
    names: dict[str, str] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in names:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (names[host], int(port or 0)))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return names


@pytest.fixture
def cloud_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    """The running settings say `prod`; keys are loaded first, since the cloud keyring would want KMS."""
    from chalicelib.core.config import get_settings
    from chalicelib.security import keyring

    keyring.get_keyring()
    monkeypatch.setattr(get_settings(), "stage", "prod")


def deliver(app: Any, monkeypatch: pytest.MonkeyPatch, moment: datetime) -> dict[str, int]:
    from chalicelib.entrypoints import events as handlers

    monkeypatch.setattr(handlers, "utcnow", lambda: moment)
    return dict(Scheduler(app, clock=lambda: moment).invoke("deliver_webhooks"))


def issued(name: str) -> Any:
    """A `reward.issued` payload for tests that queue an event directly."""
    from chalicelib.messaging.rules.payloads import RewardIssued

    return RewardIssued(
        reward_id="r-1",
        campaign_id="c-1",
        code="ABCD2345",
        rule="m1",
        type="coupon",
        name=name,
        value_fen=500,
        points=0,
    )


def register(tid: str, url: str) -> None:
    from chalicelib.messaging import webhooks
    from chalicelib.messaging.rules.webhooks import EVENT_TYPES

    webhooks.add_endpoint(tid, url, list(EVENT_TYPES), "local", datetime.now(UTC))


def test_events_are_delivered_once_signed_and_retried_until_dead(
    api: Api, tenant: Tenant, pump: StreamPump, app: Any, monkeypatch: pytest.MonkeyPatch,
    receivers: tuple[Receiver, Receiver],
) -> None:  # fmt: skip
    from chalicelib.messaging import webhooks

    healthy, failing = receivers
    register(tenant.tid, healthy.url)
    register(tenant.tid, failing.url)
    cid = group_campaign(api, tenant)
    leader = participant(api, cid)
    gid = open_group(api, cid, leader, size=2)[1]["group_id"]
    assert join_group(api, gid, participant(api, cid))[1]["status"] == "succeeded"
    pump.drain()
    pump.drain()  # a replayed batch queues nothing new

    now = datetime.now(UTC) + timedelta(seconds=1)
    deliver(app, monkeypatch, now)
    events = healthy.events()
    assert sorted(e["type"] for e in events) == ["group.succeeded", "reward.issued"]
    assert len({e["id"] for e in events}) == 2
    assert next(e for e in events if e["type"] == "group.succeeded")["data"]["group_id"] == gid
    secret = standard_secret(tenant.tid)
    for headers, body in healthy.requests:
        # Standard Webhooks: verified by the reference library at the moment of the attempt.
        assert verify_delivery(secret, headers, body, at=now) == json.loads(body)
        assert headers["webhook-id"] == json.loads(body)["id"] and headers["webhook-timestamp"] == str(
            int(now.timestamp())
        )
        # The deprecated headers, still sent: the same id, and the hex-keyed `v1=` signature over `timestamp.body`.
        assert headers["x-fission-event-id"] == headers["webhook-id"]
        assert headers["x-fission-timestamp"] == headers["webhook-timestamp"]
        key = base64.b64decode(secret.removeprefix("whsec_"))
        expected = hmac.new(key, f"{headers['x-fission-timestamp']}.".encode() + body, hashlib.sha256).hexdigest()
        assert headers["x-fission-signature"] == f"v1={expected}"
    assert len(failing.requests) == 2

    # Nothing is due again right away: the failures wait for their backoff (at least 30 s).
    assert deliver(app, monkeypatch, now + timedelta(seconds=10))["retried"] == 0
    assert len(failing.requests) == 2
    for attempt in range(1, 8):
        now += timedelta(hours=1, minutes=1)
        counts = deliver(app, monkeypatch, now)
        assert len(failing.requests) == 2 * (attempt + 1)
        assert counts["dead" if attempt == 7 else "retried"] == 2
    assert deliver(app, monkeypatch, now + timedelta(days=1)) == {"delivered": 0, "retried": 0, "dead": 0, "errors": 0}
    assert len(healthy.requests) == 2  # the healthy endpoint got each event exactly once
    # Every retry carries the event's id again and its own attempt's timestamp.
    attempts: dict[str, list[str]] = {}
    for headers, _ in failing.requests:
        attempts.setdefault(headers["webhook-id"], []).append(headers["webhook-timestamp"])
    assert sorted(attempts) == sorted(e["id"] for e in events)
    assert all(len(stamps) == 8 == len(set(stamps)) for stamps in attempts.values()), attempts
    dead = webhooks.dead_deliveries(tenant.tid)
    assert sorted(d["type"] for d in dead) == ["group.succeeded", "reward.issued"]
    assert all(d["attempts"] == 8 for d in dead)


def test_a_failed_group_is_announced_with_its_refunds(
    api: Api, tenant: Tenant, clock: Clock, app: Any, monkeypatch: pytest.MonkeyPatch,
    receivers: tuple[Receiver, Receiver],
) -> None:  # fmt: skip
    healthy, _ = receivers
    register(tenant.tid, healthy.url)
    cid = group_campaign(api, tenant, deadline_hours=2)
    gid = open_group(api, cid, participant(api, cid), size=3)[1]["group_id"]

    later = datetime.now(UTC) + timedelta(hours=3)
    clock.advance(hours=3)
    from chalicelib.entrypoints import events as handlers

    monkeypatch.setattr(handlers, "utcnow", lambda: later)
    assert gid in Scheduler(app, clock=lambda: later).invoke("fail_expired_groups")["failed"]
    deliver(app, monkeypatch, later + timedelta(seconds=1))
    failed = [e for e in healthy.events() if e["type"] == "group.failed"]
    assert [(e["data"]["group_id"], e["data"]["refunds"]) for e in failed] == [(gid, [])]


def test_only_https_urls_and_known_events_are_accepted(tenant: Tenant, fake_dns: dict[str, str]) -> None:
    from chalicelib.core.errors import ValidationFailed
    from chalicelib.messaging import webhooks

    fake_dns["example.com"] = "93.184.216.34"
    now = datetime.now(UTC)
    with pytest.raises(ValidationFailed):
        webhooks.add_endpoint(tenant.tid, "http://example.com/hook", ["reward.issued"], "prod", now)
    with pytest.raises(ValidationFailed):
        webhooks.add_endpoint(tenant.tid, "http://127.0.0.1/hook", ["reward.issued"], "prod", now)
    with pytest.raises(ValidationFailed):
        webhooks.add_endpoint(tenant.tid, "https://example.com/hook", ["order.paid"], "prod", now)
    made = webhooks.add_endpoint(tenant.tid, "https://example.com/hook", ["reward.issued"], "prod", now)
    assert [e["id"] for e in webhooks.list_endpoints(tenant.tid)] == [made["id"]]
    webhooks.delete_endpoint(tenant.tid, made["id"])
    assert webhooks.list_endpoints(tenant.tid) == []


@pytest.mark.parametrize(
    "url",
    [
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::ffff:127.0.0.1]/hook",
        "https://100.64.3.2/hook",
        "https://localhost/hook",
        "https://metadata.google.internal/computeMetadata/v1/",
        "https://intranet/hook",
        "https://internal.example.com/hook",
        "https://user:pw@example.com/hook",
    ],
)
def test_cloud_stages_refuse_endpoints_that_reach_inside(
    api: Api, tenant: Tenant, fake_dns: dict[str, str], cloud_stage: None, url: str
) -> None:
    fake_dns.update({"internal.example.com": "10.1.2.3", "example.com": "93.184.216.34"})
    status, error = api.call("POST", "/v1/admin/webhooks", {"url": url, "events": ["reward.issued"]},
                             token=tenant.owner_token)  # fmt: skip
    assert (status, error["error"]["code"]) == (422, "INVALID_URL"), error
    assert api.call("GET", "/v1/admin/webhooks", token=tenant.owner_token)[1]["items"] == []


def test_delivery_rechecks_the_address_and_a_refusal_is_a_failed_attempt(
    tenant: Tenant, app: Any, monkeypatch: pytest.MonkeyPatch, fake_dns: dict[str, str], cloud_stage: None
) -> None:
    """Registered while the name was public; by delivery time it points inside (DNS rebinding)."""
    from chalicelib.core.clock import iso
    from chalicelib.messaging import events, webhooks

    fake_dns["hooks.example.com"] = "93.184.216.34"
    now = datetime.now(UTC)
    webhooks.add_endpoint(tenant.tid, "https://hooks.example.com/fission", ["commission.earned"], "prod", now)
    fake_dns["hooks.example.com"] = "10.0.0.9"
    from chalicelib.messaging.rules.payloads import Commission

    earned = Commission(
        campaign_id="c-1", order_id="o-1", level=1, code="ABCD2345", amount_fen=1, available_at=iso(now)
    )
    assert events.emit(tenant.tid, "commission.earned", earned, f"{tenant.tid}|rebind", now) == 1

    moment = now + timedelta(seconds=1)
    for attempt in range(1, 9):
        counts = deliver(app, monkeypatch, moment)
        assert counts["dead" if attempt == 8 else "retried"] >= 1, counts
        moment += timedelta(hours=1, minutes=1)
    [dead] = webhooks.dead_deliveries(tenant.tid)
    assert dead["attempts"] == 8
    assert dead["last_error"].startswith("refused:") and "10.0.0.9" in dead["last_error"], dead


def test_a_redirect_is_a_failed_delivery(
    tenant: Tenant, app: Any, monkeypatch: pytest.MonkeyPatch, receivers: tuple[Receiver, Receiver]
) -> None:
    """A redirect's target was never checked, so it is not followed even to a healthy endpoint."""
    from chalicelib.messaging import events

    healthy, _ = receivers
    bouncer = Receiver(302, standard_secret(tenant.tid), location=healthy.url)
    try:
        register(tenant.tid, bouncer.url)
        now = datetime.now(UTC)
        assert events.emit(tenant.tid, "reward.issued", issued("bounce"), f"{tenant.tid}|bounce", now) == 1
        assert deliver(app, monkeypatch, now + timedelta(seconds=1))["retried"] >= 1
        assert len(bouncer.requests) == 1
        assert healthy.requests == []
    finally:
        bouncer.close()


def test_outbox_markers_expire_after_thirty_days(tenant: Tenant, receivers: tuple[Receiver, Receiver]) -> None:
    from chalicelib.messaging import events
    from chalicelib.messaging.rules import webhooks as domain
    from chalicelib.table import keys
    from chalicelib.table.models import OutboxMarkerItem

    register(tenant.tid, receivers[0].url)
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    assert events.emit(tenant.tid, "reward.issued", issued("ttl"), f"{tenant.tid}|ttl", now) == 1
    eid = domain.event_id(tenant.tid, "reward.issued", f"{tenant.tid}|ttl")
    seen = keys.outbox_seen_pk(domain.shard_of(eid))
    [marker] = list(OutboxMarkerItem.query(seen, OutboxMarkerItem.SK.startswith(eid)))
    assert marker.expires_at == int((now + timedelta(days=30)).timestamp())


def test_a_failed_delivery_moves_to_its_next_due_time_in_its_events_shard(
    tenant: Tenant, app: Any, monkeypatch: pytest.MonkeyPatch, receivers: tuple[Receiver, Receiver]
) -> None:
    from chalicelib.core.clock import iso
    from chalicelib.messaging import events
    from chalicelib.messaging.rules import webhooks as domain
    from chalicelib.table.models import Item, OutboxItem

    register(tenant.tid, receivers[1].url)
    now = datetime.now(UTC)
    eid = domain.event_id(tenant.tid, "reward.issued", f"{tenant.tid}|move")

    def queued() -> list[OutboxItem]:
        found = Item.query(f"OUT#{domain.shard_of(eid)}", consistent_read=True)
        return [item for item in found if isinstance(item, OutboxItem) and item.event_id == eid]

    try:
        assert events.emit(tenant.tid, "reward.issued", issued("move"), f"{tenant.tid}|move", now) == 1
        [first] = queued()
        assert first.SK == f"{iso(now)}#{eid}#{first.wid}" and first.GSI1PK is None and first.GSI2PK is None
        assert (first.attempts, first.status, first.payload, first.last_error) == (
            0,
            "pending",
            json.dumps(issued("move").body(), sort_keys=True),
            None,
        )
        deliver(app, monkeypatch, now + timedelta(seconds=1))
        [moved] = queued()
        due, rest = moved.SK.split("#", 1)
        assert rest == f"{eid}#{first.wid}" and due >= iso(now + timedelta(seconds=31))
        assert (moved.attempts, moved.status, moved.created_at, moved.payload) == (
            1,
            "pending",
            first.created_at,
            first.payload,
        )
        assert moved.last_error
    finally:
        for item in queued():  # leave no pending delivery behind for the tests that count a whole run
            item.delete()


def test_after_a_rotation_deliveries_verify_with_the_old_secret_for_the_overlap_and_then_only_with_the_new(
    api: Api, tenant: Tenant, clock: Clock, app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from standardwebhooks.webhooks import WebhookVerificationError

    from chalicelib.accounts.webhook_secret import ROTATION_OVERLAP
    from chalicelib.messaging import events

    token = tenant.stepped_token()
    status, old = api.call("GET", "/v1/admin/webhook-secret", token=token)
    assert status == 200, old
    # The same key bytes both ways: the hex secret's bytes, base64 after `whsec_`.
    assert old["standard_webhooks_secret"] == "whsec_" + base64.b64encode(bytes.fromhex(old["secret"])).decode()
    assert old["previous_signs_until"] is None
    before = clock().replace(microsecond=0)
    status, new = api.call("POST", "/v1/admin/webhook-secret/rotate", token=token)
    assert status == 200 and new["version"] == old["version"] + 1, new
    rotated = clock()
    until = datetime.fromisoformat(new["previous_signs_until"])
    assert before + ROTATION_OVERLAP <= until <= rotated + ROTATION_OVERLAP
    old_secret, new_secret = old["standard_webhooks_secret"], new["standard_webhooks_secret"]
    assert new_secret != old_secret

    receiver = Receiver(200, new_secret)  # the receiver that switched over; every delivery verifies for it
    try:
        register(tenant.tid, receiver.url)

        def delivered(key: str, moment: datetime) -> tuple[dict[str, str], bytes]:
            assert events.emit(tenant.tid, "reward.issued", issued(key), f"{tenant.tid}|{key}", moment) == 1
            assert deliver(app, monkeypatch, moment)["delivered"] == 1
            return receiver.requests[-1]

        within = rotated + ROTATION_OVERLAP - timedelta(minutes=1)
        headers, body = delivered("within", within)
        assert len(headers["webhook-signature"].split(" ")) == 2
        assert verify_delivery(new_secret, headers, body, at=within) == json.loads(body)
        assert verify_delivery(old_secret, headers, body, at=within) == json.loads(body)  # not switched yet: fine

        after = rotated + ROTATION_OVERLAP + timedelta(minutes=1)
        headers, body = delivered("after", after)
        assert len(headers["webhook-signature"].split(" ")) == 1
        assert verify_delivery(new_secret, headers, body, at=after) == json.loads(body)
        with pytest.raises(WebhookVerificationError):
            verify_delivery(old_secret, headers, body, at=after)
    finally:
        receiver.close()

    clock.advance(hours=25)
    status, shown = api.call("GET", "/v1/admin/webhook-secret", token=tenant.totp_token())
    assert status == 200 and shown["previous_signs_until"] is None, shown
    assert shown["standard_webhooks_secret"] == new_secret
