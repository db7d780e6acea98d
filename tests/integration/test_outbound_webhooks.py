"""Outbound webhooks: events queued once through the outbox, signed deliveries, retries with backoff, dead letters."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Clock, Tenant
from tests.integration.test_group_buy import group_campaign, join_group, open_group, participant


class Receiver:
    """A local endpoint that records every request and answers with a fixed status."""

    def __init__(self, status: int) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.requests]


@pytest.fixture
def receivers() -> Iterator[tuple[Receiver, Receiver]]:
    healthy, failing = Receiver(200), Receiver(500)
    yield healthy, failing
    healthy.server.shutdown()
    failing.server.shutdown()


def deliver(app: Any, monkeypatch: pytest.MonkeyPatch, moment: datetime) -> dict[str, int]:
    from chalicelib.events import handlers

    monkeypatch.setattr(handlers, "utcnow", lambda: moment)
    return dict(Scheduler(app, clock=lambda: moment).invoke("deliver_webhooks"))


def register(tid: str, url: str) -> None:
    from chalicelib.domain.outbox import EVENT_TYPES
    from chalicelib.services import outbox

    outbox.add_endpoint(tid, url, list(EVENT_TYPES), "local", datetime.now(UTC))


def test_events_are_delivered_once_signed_and_retried_until_dead(
    api: Api, tenant: Tenant, pump: StreamPump, app: Any, monkeypatch: pytest.MonkeyPatch,
    receivers: tuple[Receiver, Receiver],
) -> None:  # fmt: skip
    from chalicelib.security import webhooks
    from chalicelib.services import hooks, outbox

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
    secret = hooks.signing_secret(tenant.tid)
    for headers, body in healthy.requests:
        webhooks.verify(secret, headers, body, int(headers["x-fission-timestamp"]))
        assert headers["x-fission-event-id"] == json.loads(body)["id"]
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
    dead = outbox.dead_deliveries(tenant.tid)
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
    from chalicelib.events import handlers

    monkeypatch.setattr(handlers, "utcnow", lambda: later)
    assert gid in Scheduler(app, clock=lambda: later).invoke("fail_expired_groups")["failed"]
    deliver(app, monkeypatch, later + timedelta(seconds=1))
    failed = [e for e in healthy.events() if e["type"] == "group.failed"]
    assert [(e["data"]["group_id"], e["data"]["refunds"]) for e in failed] == [(gid, [])]


def test_only_https_urls_and_known_events_are_accepted(tenant: Tenant) -> None:
    from chalicelib.errors import ValidationFailed
    from chalicelib.services import outbox

    now = datetime.now(UTC)
    with pytest.raises(ValidationFailed):
        outbox.add_endpoint(tenant.tid, "http://example.com/hook", ["reward.issued"], "prod", now)
    with pytest.raises(ValidationFailed):
        outbox.add_endpoint(tenant.tid, "http://127.0.0.1/hook", ["reward.issued"], "prod", now)
    with pytest.raises(ValidationFailed):
        outbox.add_endpoint(tenant.tid, "https://example.com/hook", ["order.paid"], "prod", now)
    made = outbox.add_endpoint(tenant.tid, "https://example.com/hook", ["reward.issued"], "prod", now)
    assert [e["id"] for e in outbox.list_endpoints(tenant.tid)] == [made["id"]]
    outbox.delete_endpoint(tenant.tid, made["id"])
    assert outbox.list_endpoints(tenant.tid) == []
