"""The orders webhook: commissions on two levels exactly once, clawback, qualification, group payment."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.security.signing import sign
from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, join, live_campaign, standard_secret
from tests.integration.messaging.test_outbound_webhooks import Receiver, deliver, register
from tests.integration.referral.test_follow_hooks import counted, secret


def post_order(
    api: Api, tenant: Tenant, key: bytes, payload: dict[str, Any], *, stamp: int | None = None
) -> tuple[int, Any]:
    raw = json.dumps(payload).encode()
    stamp = int(time.time()) if stamp is None else stamp
    headers = {"X-Fission-Timestamp": str(stamp), "X-Fission-Signature": sign(key, stamp, raw)}
    return api.call("POST", f"/v1/hooks/{tenant.tid}/orders", raw, headers=headers)


def order(cid: str, buyer: str, oid: str, status: str = "paid", amount: int = 10_000, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": uuid.uuid4().hex, "order_id": oid, "campaign_id": cid, "external_id": buyer, "amount": amount,
        "status": status, "items": [{"sku": "SKU-1", "qty": 1, "price_fen": amount}], **extra,
    }  # fmt: skip


def commission(api: Api, cid: str, who: dict[str, Any]) -> dict[str, int]:
    status, me = api.call("GET", f"/v1/campaigns/{cid}/me", token=who["token"])
    assert status == 200, me
    return dict(me["commission"])


def chain(api: Api, tenant: Tenant) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A distribution campaign: top invites mid, mid invites the buyer."""
    cid = live_campaign(api, tenant, "distribution")
    top = join(api, cid, external_id="top")[1]
    mid = join(api, cid, external_id="mid", ref=top["invite_code"])[1]
    buyer = join(api, cid, external_id="buyer", ref=mid["invite_code"])[1]
    return cid, top, mid, buyer


def test_two_levels_exactly_once(api: Api, tenant: Tenant) -> None:
    cid, top, mid, buyer = chain(api, tenant)
    key = secret(api, tenant)
    for _ in range(3):  # repeated deliveries
        status, body = post_order(api, tenant, key, order(cid, "buyer", "o-1"))
        assert status == 200, body
    assert commission(api, cid, mid) == {"pending_fen": 1000, "available_fen": 0, "clawed_back_fen": 0}
    assert commission(api, cid, top) == {"pending_fen": 300, "available_fen": 0, "clawed_back_fen": 0}
    assert commission(api, cid, buyer) == {"pending_fen": 0, "available_fen": 0, "clawed_back_fen": 0}


def test_one_level(api: Api, tenant: Tenant) -> None:
    rules = {"levels": 1, "rates_bp": [1000], "binding": "last_click", "frozen_days": 7}
    cid = live_campaign(api, tenant, "distribution", rules=rules)
    top = join(api, cid, external_id="top")[1]
    mid = join(api, cid, external_id="mid", ref=top["invite_code"])[1]
    join(api, cid, external_id="buyer", ref=mid["invite_code"])
    status, body = post_order(api, tenant, secret(api, tenant), order(cid, "buyer", "o-1"))
    assert status == 200, body
    assert [c["amount_fen"] for c in body["commissions"]] == [1000]
    assert commission(api, cid, mid)["pending_fen"] == 1000
    assert commission(api, cid, top)["pending_fen"] == 0


def test_refund_claws_back_pending_and_available(api: Api, tenant: Tenant, clock: Clock) -> None:
    cid, top, mid, _ = chain(api, tenant)
    key = secret(api, tenant)
    assert post_order(api, tenant, key, order(cid, "buyer", "o-1"), stamp=int(clock().timestamp()))[0] == 200
    clock.advance(days=8)  # past frozen_days
    assert commission(api, cid, mid) == {"pending_fen": 0, "available_fen": 1000, "clawed_back_fen": 0}
    assert post_order(api, tenant, key, order(cid, "buyer", "o-2"), stamp=int(clock().timestamp()))[0] == 200
    assert commission(api, cid, mid) == {"pending_fen": 1000, "available_fen": 1000, "clawed_back_fen": 0}
    for oid in ("o-1", "o-2", "o-1"):  # the last one is a repeated refund
        status, body = post_order(
            api, tenant, key, order(cid, "buyer", oid, "refunded"), stamp=int(clock().timestamp())
        )
        assert status == 200, body
    assert commission(api, cid, mid) == {"pending_fen": 0, "available_fen": 0, "clawed_back_fen": 2000}
    assert commission(api, cid, top) == {"pending_fen": 0, "available_fen": 0, "clawed_back_fen": 600}


def test_first_paid_order_qualifies_the_invite(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    rules = {
        "qualifying_action": "first_paid_order",
        "milestones": [{"invites": 1, "reward": {"type": "points", "name": "p", "points": 5}}],
    }
    cid = live_campaign(api, tenant, "invite", rules=rules)
    owner = join(api, cid, external_id="owner")[1]
    join(api, cid, external_id="fan", ref=owner["invite_code"])
    pump.drain()
    assert counted(api, cid, owner) == 0
    key = secret(api, tenant)
    assert post_order(api, tenant, key, order(cid, "fan", "o-1"))[1]["qualified"] is True
    assert post_order(api, tenant, key, order(cid, "fan", "o-2"))[1]["qualified"] is False
    pump.drain()
    assert counted(api, cid, owner) == 1


def test_group_member_order_is_recorded(api: Api, tenant: Tenant) -> None:
    from chalicelib.modes.group_buy import store as groups

    cid = live_campaign(api, tenant, "group_buy")
    leader = join(api, cid, external_id="leader")[1]
    status, group = api.call("POST", f"/v1/campaigns/{cid}/groups", {"size": 2}, token=leader["token"])
    assert status == 201, group
    key = secret(api, tenant)
    body = post_order(api, tenant, key, order(cid, "leader", "o-1", group_id=group["group_id"]))[1]
    assert body["group_member"] is True
    rec = groups.get(group["group_id"])
    assert rec is not None
    assert [m.order_id for m in rec.roster] == ["o-1"]


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("unknown_campaign", 404, "CAMPAIGN_NOT_FOUND"),
        ("signature", 401, "INVALID_SIGNATURE"),
        ("stale", 401, "STALE_TIMESTAMP"),
        ("malformed", 422, None),
        ("refund_unknown", 404, "ORDER_NOT_FOUND"),
    ],
)
def test_bad_deliveries(api: Api, tenant: Tenant, case: str, status: int, code: str | None) -> None:
    cid, *_ = chain(api, tenant)
    key = secret(api, tenant)
    payload = order(cid, "buyer", "o-1")
    stamp = int(time.time())
    if case == "unknown_campaign":
        payload["campaign_id"] = "nope"
    if case == "signature":
        key = b"not the secret"
    if case == "stale":
        stamp -= 600
    if case == "malformed":
        payload["amount"] = 0
        payload["colour"] = "red"
    if case == "refund_unknown":
        payload["status"] = "refunded"
    got, body = post_order(api, tenant, key, payload, stamp=stamp)
    assert got == status, body
    if code is not None:
        assert body["error"]["code"] == code


@pytest.fixture
def receiver(tenant: Tenant) -> Iterator[Receiver]:
    healthy = Receiver(200, standard_secret(tenant.tid))
    yield healthy
    healthy.close()


def commission_events(received: Receiver, event_type: str) -> list[dict[str, Any]]:
    return sorted((e["data"] for e in received.events() if e["type"] == event_type), key=lambda d: d["level"])


def test_each_commission_is_announced_once_across_repeated_deliveries(
    api: Api, tenant: Tenant, app: Any, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    cid, top, mid, _ = chain(api, tenant)
    register(tenant.tid, receiver.url)
    key = secret(api, tenant)
    for _ in range(3):
        status, body = post_order(api, tenant, key, order(cid, "buyer", "o-1"))
        assert status == 200, body
    deliver(app, monkeypatch, datetime.now(UTC) + timedelta(seconds=1))
    earned = commission_events(receiver, "commission.earned")
    assert [(d["level"], d["code"], d["amount_fen"]) for d in earned] == [
        (1, mid["invite_code"], 1000), (2, top["invite_code"], 300),
    ]  # fmt: skip
    assert all(d["campaign_id"] == cid and d["order_id"] == "o-1" and d["available_at"] for d in earned)
    assert len({e["id"] for e in receiver.events()}) == len(receiver.events())


def test_a_lost_announcement_is_repaired_by_the_merchants_retry(
    api: Api, tenant: Tenant, app: Any, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    from chalicelib.core.errors import Unavailable
    from chalicelib.messaging import events

    cid, _, mid, _ = chain(api, tenant)
    register(tenant.tid, receiver.url)
    key = secret(api, tenant)

    def down(*args: Any, **kwargs: Any) -> int:
        raise Unavailable("outbox down", code="STORAGE_UNAVAILABLE")

    with monkeypatch.context() as patched:
        patched.setattr(events, "emit", down)
        assert post_order(api, tenant, key, order(cid, "buyer", "o-1"))[0] == 503  # the ledger was written
    assert commission(api, cid, mid)["pending_fen"] == 1000
    status, body = post_order(api, tenant, key, order(cid, "buyer", "o-1"))
    assert (status, body["result"]) == (200, "duplicate"), body
    deliver(app, monkeypatch, datetime.now(UTC) + timedelta(seconds=1))
    assert [d["amount_fen"] for d in commission_events(receiver, "commission.earned")] == [1000, 300]


def test_refund_announces_each_clawback_also_of_available_commission(
    api: Api, tenant: Tenant, clock: Clock, app: Any, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    cid, top, mid, _ = chain(api, tenant)
    register(tenant.tid, receiver.url)
    key = secret(api, tenant)
    assert post_order(api, tenant, key, order(cid, "buyer", "o-1"), stamp=int(clock().timestamp()))[0] == 200
    clock.advance(days=8)  # past frozen_days: the commission is available
    assert commission(api, cid, mid)["available_fen"] == 1000
    for _ in range(2):  # a repeated refund announces nothing new
        refund = order(cid, "buyer", "o-1", "refunded")
        assert post_order(api, tenant, key, refund, stamp=int(clock().timestamp()))[0] == 200
    deliver(app, monkeypatch, clock() + timedelta(seconds=1))
    earned = commission_events(receiver, "commission.earned")
    clawed = commission_events(receiver, "commission.clawed_back")
    assert [(d["level"], d["code"], d["amount_fen"]) for d in clawed] == [
        (1, mid["invite_code"], -1000), (2, top["invite_code"], -300),
    ]  # fmt: skip
    assert [d["available_at"] for d in clawed] == [d["available_at"] for d in earned]
    assert commission(api, cid, mid) == {"pending_fen": 0, "available_fen": 0, "clawed_back_fen": 1000}


@pytest.mark.parametrize("change", [{"amount": 20_000}, {"external_id": "mid"}, {"external_id": "never-joined"}])
def test_a_paid_order_repeated_with_other_facts_is_a_conflict(api: Api, tenant: Tenant, change: dict[str, Any]) -> None:
    cid, top, mid, _ = chain(api, tenant)
    key = secret(api, tenant)
    assert post_order(api, tenant, key, order(cid, "buyer", "o-1"))[0] == 200
    changed = {**order(cid, "buyer", "o-1"), **change}
    status, error = post_order(api, tenant, key, changed)
    assert (status, error["error"]["code"]) == (409, "ORDER_CONFLICT"), error
    status, body = post_order(api, tenant, key, order(cid, "buyer", "o-1"))
    assert (status, body["result"]) == (200, "duplicate"), body
    assert commission(api, cid, mid) == {"pending_fen": 1000, "available_fen": 0, "clawed_back_fen": 0}
    assert commission(api, cid, top) == {"pending_fen": 300, "available_fen": 0, "clawed_back_fen": 0}
