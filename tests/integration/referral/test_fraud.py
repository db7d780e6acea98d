"""Fraud signals at the join, the review queue, and exactly-once release or rejection."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.local import LambdaEventConverter

from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, join_body, live_campaign
from tests.integration.conftest import deliver_every_batch_twice


def _ip() -> str:
    """A fresh address per test: velocity windows are per campaign, but keep tests independent anyway."""
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250}"


@contextmanager
def connecting_from(ip: str | None) -> Iterator[None]:
    """The test client's requests come from `ip` (the connection's source address; none when None)."""
    before = LambdaEventConverter.LOCAL_SOURCE_IP
    LambdaEventConverter.LOCAL_SOURCE_IP = ip or ""
    try:
        yield
    finally:
        LambdaEventConverter.LOCAL_SOURCE_IP = before


def _join(api: Api, cid: str, ip: str | None, **fields: Any) -> tuple[int, Any]:
    body = join_body(cid, fields.pop("external_id", f"user-{uuid.uuid4().hex[:8]}"), **fields)
    with connecting_from(ip):
        return api.call("POST", f"/v1/campaigns/{cid}/participants", body)


def _me(api: Api, cid: str, token: str) -> dict[str, Any]:
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me", token=token)
    assert status == 200, body
    return dict(body)


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Every request at one instant early in a minute: the per-minute window is the same for all joins."""
    from chalicelib.http import request as http

    now = datetime.now(UTC).replace(second=5, microsecond=0)
    monkeypatch.setattr(http, "clock", lambda: now)
    return now


def _ring(api: Api, cid: str, pump: StreamPump, size: int = 6) -> list[dict[str, Any]]:
    """`size` accounts, each inviting the next, from one address and two alternating devices."""
    ip, joined, ref = _ip(), [], None
    for i in range(size):
        fields: dict[str, Any] = {"device_id": f"ring-device-{i % 2}-{ip}"}
        if ref:
            fields["ref"] = ref
        status, body = _join(api, cid, ip, **fields)
        assert status == 201, body
        joined.append(body)
        ref = body["invite_code"]
        pump.drain()
    return joined


def test_a_ring_of_six_is_held_and_counts_nowhere(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    ring = _ring(api, cid, pump)
    assert [("review" in r) for r in ring] == [False, False, True, True, True, True]
    # The held invitee sees "pending", never why; its inviter sees it pending, not counted.
    assert _me(api, cid, ring[2]["token"])["review"] == "pending"
    inviter = _me(api, cid, ring[1]["token"])
    assert inviter["progress"]["counted_invites"] == 0
    assert inviter["progress"]["pending_review_invites"] == 1
    assert [r["name"] for r in inviter["rewards"]] == ["Welcome coupon"]  # its own, as an invitee: no milestone
    status, page = api.call("GET", "/v1/admin/reviews?status=pending", token=tenant.owner_token)
    assert status == 200, page
    mine = [r for r in page["items"] if r["campaign_id"] == cid]
    assert {r["subject"] for r in mine} == {r["invite_code"] for r in ring[2:]}
    assert "REFERRAL_CLUSTER" in {reason["code"] for reason in mine[0]["reasons"]}
    assert {(r["reason"], r["reason_code"]) for r in mine} == {(None, "RISK_HOLD")}


def test_approving_a_held_invite_rewards_once_and_rejecting_nothing(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    ring = _ring(api, cid, pump, size=4)
    deliver_every_batch_twice(pump)
    rid = f"join-{ring[2]['invite_code']}"
    for _ in range(2):  # a repeated POST changes nothing
        status, body = api.call("POST", f"/v1/admin/reviews/{rid}/approve", {"reason": "known family"},
                                token=tenant.owner_token)  # fmt: skip
        assert status == 200, body
        assert (body["status"], body["reason_code"]) == ("approved", "OPERATOR_APPROVED")
        pump.drain()
    inviter = _me(api, cid, ring[1]["token"])
    assert inviter["progress"]["counted_invites"] == 1
    assert inviter["progress"]["pending_review_invites"] == 0
    assert sorted(r["name"] for r in inviter["rewards"]) == ["5 yuan coupon", "Welcome coupon"]
    invitee = _me(api, cid, ring[2]["token"])
    assert "review" not in invitee
    assert [r["name"] for r in invitee["rewards"]] == ["Welcome coupon"]

    rid = f"join-{ring[3]['invite_code']}"
    status, body = api.call("POST", f"/v1/admin/reviews/{rid}/reject", {"reason": "ring"}, token=tenant.owner_token)
    assert (status, body["reason_code"]) == (200, "OPERATOR_REJECTED"), body
    pump.drain()
    assert _me(api, cid, ring[2]["token"])["progress"]["counted_invites"] == 0
    assert _me(api, cid, ring[3]["token"])["rewards"] == []
    status, body = api.call("POST", f"/v1/admin/reviews/{rid}/approve", {"reason": "oops"}, token=tenant.owner_token)
    assert (status, body["error"]["code"]) == (409, "REVIEW_DECIDED")
    status, page = api.call("GET", "/v1/admin/reviews?status=rejected", token=tenant.owner_token)
    assert rid in {r["id"] for r in page["items"]}


def test_thirty_joins_from_one_address_in_a_minute(
    api: Api, tenant: Tenant, pump: StreamPump, frozen: datetime
) -> None:
    cid = live_campaign(api, tenant)
    ip, outcomes = _ip(), []
    for _ in range(30):
        status, body = _join(api, cid, ip)
        assert status == 201, body
        outcomes.append(body.get("review", "allowed"))
        pump.drain()  # the counters are kept by the stream: let them catch up (docs/fraud.md)
    assert outcomes == ["allowed"] * 10 + ["pending"] * 20


def test_a_stricter_policy_blocks_them(api: Api, tenant: Tenant, pump: StreamPump, frozen: datetime) -> None:
    cid = live_campaign(api, tenant, fraud={"hold_at": 50, "block_at": 70, "velocity": {"ip_per_minute": 5}})
    ip, statuses = _ip(), []
    for _ in range(8):
        status, body = _join(api, cid, ip)
        statuses.append(status)
        pump.drain()
    assert statuses == [201] * 5 + [403] * 3
    assert body["error"]["code"] == "JOIN_BLOCKED"
    assert "VELOCITY" not in str(body)  # neutral: no reasons to the caller
    # Without a known address the velocity signal does not apply.
    assert join(api, cid)[0] == 201


def test_a_self_referral_by_shared_device_gets_no_credit(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    status, inviter = _join(api, cid, _ip(), device_id="shared-phone")
    assert status == 201
    status, body = _join(api, cid, _ip(), device_id="shared-phone", ref=inviter["invite_code"])
    assert status == 201
    assert body["invited_by"] is None
    pump.drain()
    assert _me(api, cid, inviter["token"])["progress"]["counted_invites"] == 0


def test_reviews_need_the_permissions(api: Api, tenant: Tenant) -> None:
    viewer = tenant.operator("viewer")
    assert api.call("GET", "/v1/admin/reviews", token=viewer)[0] == 403
    operator = tenant.operator("operator")
    assert api.call("GET", "/v1/admin/reviews", token=operator)[0] == 200
    status, body = api.call("POST", "/v1/admin/reviews/join-00000000/approve", {"reason": "x"}, token=operator)
    assert (status, body["error"]["code"]) == (404, "REVIEW_NOT_FOUND")


def _reviews(api: Api, tenant: Tenant, cid: str, status: str = "pending") -> list[dict[str, Any]]:
    code, page = api.call("GET", f"/v1/admin/reviews?status={status}", token=tenant.owner_token)
    assert code == 200, page
    return [r for r in page["items"] if r["campaign_id"] == cid]


def test_a_brand_new_helper_from_the_owners_address_is_held_then_approved(api: Api, tenant: Tenant) -> None:
    from tests.integration.modes.test_assists import RULES

    cid = live_campaign(api, tenant, "assist", rules=RULES, fraud={"hold_at": 50})
    ip = _ip()
    owner = _join(api, cid, ip)[1]
    helper = _join(api, cid, ip)[1]
    path = f"/v1/campaigns/{cid}/assists/{owner['invite_code']}"
    with connecting_from(ip):
        status, body = api.call("POST", path, token=helper["token"])
    assert (status, body["error"]["code"]) == (409, "HELP_HELD")
    [review] = _reviews(api, tenant, cid)
    assert {r["code"] for r in review["reasons"]} == {"NEW_ACCOUNT_HELP", "SHARED_IP"}
    status, _ = api.call(
        "POST", f"/v1/admin/reviews/{review['id']}/approve", {"reason": "ok"}, token=tenant.owner_token
    )
    assert status == 200
    with connecting_from(ip):
        status, body = api.call("POST", path, token=helper["token"])
    assert status == 200, body
    assert "cut" in body


def test_orders_are_flagged_never_refused(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    from tests.integration.modes.test_orders_distribution import order, post_order
    from tests.integration.referral.test_follow_hooks import secret

    cid = live_campaign(api, tenant)
    key = secret(api, tenant)
    inviter = join(api, cid, external_id="payer-a")[1]
    invitee = join(api, cid, external_id="payer-b", ref=inviter["invite_code"])[1]
    assert invitee["invited_by"] == inviter["invite_code"]
    pump.drain()
    card = "merchant-hash-of-card-1"
    assert post_order(api, tenant, key, order(cid, "payer-a", "o-a-1", payment_hash=card))[0] == 200
    assert post_order(api, tenant, key, order(cid, "payer-b", "o-b-1", payment_hash=card))[0] == 200
    assert post_order(api, tenant, key, order(cid, "payer-b", "o-b-1", status="refunded"))[0] == 200
    flagged = {r["id"]: {x["code"] for x in r["reasons"]} for r in _reviews(api, tenant, cid)}
    assert flagged == {"order-o-b-1": {"SHARED_PAYMENT"}, "refund-o-b-1": {"REFUND_AFTER_REWARD"}}
