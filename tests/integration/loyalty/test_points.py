"""Points: credited once from an issued points reward, shown with their expiry, spent on the catalogue."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.core.clock import iso
from chalicelib.core.errors import FissionError
from chalicelib.loyalty import points
from chalicelib.loyalty.rules.catalogue import RedemptionCreate
from chalicelib.loyalty.rules.points import Kind, PointsEntry
from chalicelib.loyalty.store import ledger
from chalicelib.referral import identity
from chalicelib.table.changes import Change
from chalicelib.table.images import RewardImage
from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign, proof
from tests.integration.conftest import deliver_every_batch_twice

POINTS_RULES = {
    "qualifying_action": "join",
    "milestones": [{"invites": 1, "reward": {"type": "points", "name": "100 points", "points": 100}}],
}


def _campaign(api: Api, tenant: Tenant) -> str:
    return live_campaign(api, tenant, "invite", rules=POINTS_RULES)


def _member(api: Api, cid: str, external_id: str | None = None) -> dict[str, Any]:
    status, body = join(api, cid, external_id=external_id or f"user-{uuid.uuid4().hex[:8]}")
    assert status == 201, body
    return dict(body)


def _give(
    tid: str, member: dict[str, Any], amount: int, source: str | None = None, ago: timedelta = timedelta(minutes=1)
) -> None:
    """Points straight into the member's ledger (a check-in), for the tests of spending."""
    person = identity.by_code(member["invite_code"], consistent=True)
    assert person is not None
    now = datetime.now(UTC) - ago
    entry = PointsEntry(
        source=source or f"checkin:{uuid.uuid4().hex}", kind=Kind.CHECK_IN, points=amount, created_at=iso(now),
        explanation="daily check-in", expires_at=iso(now + timedelta(days=365)),
    )  # fmt: skip
    assert ledger.credit(tid, points.owner_of(person), entry)


def _item(api: Api, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "Thermos", "cost_points": 100, "stock": 10, **fields}
    status, item = api.call("POST", "/v1/admin/loyalty/catalogue", body, token=tenant.owner_token)
    assert status == 201, item
    return dict(item)


def _redeem(api: Api, cid: str, member: dict[str, Any], item_id: str, key: str) -> tuple[int, Any]:
    return api.call("POST", f"/v1/campaigns/{cid}/me/redemptions", {"item_id": item_id}, token=member["token"],
                    headers={"Idempotency-Key": key})  # fmt: skip


def _mine(api: Api, cid: str, member: dict[str, Any]) -> dict[str, Any]:
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me/points", token=member["token"])
    assert status == 200, body
    return dict(body)


def test_an_issued_points_reward_credits_the_inviter_once_even_when_batches_arrive_twice(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = _campaign(api, tenant)
    deliver_every_batch_twice(pump)
    inviter = _member(api, cid)
    join(api, cid, ref=inviter["invite_code"])
    pump.drain()
    pump.drain()
    mine = _mine(api, cid, inviter)
    assert (mine["balance"], mine["earned"], mine["spent"], mine["expired"]) == (100, 100, 0, 0)
    [entry] = mine["entries"]
    assert entry["kind"] == "reward" and entry["points"] == 100 and entry["campaign_id"] == cid
    assert entry["source"] == f"reward:{inviter['invite_code']}-m1"
    assert "100 points" in entry["explanation"]
    earned = datetime.fromisoformat(entry["created_at"])
    assert datetime.fromisoformat(entry["expires_at"]) - earned == timedelta(days=365)
    assert mine["expiring_soon"] == []


def test_the_tenants_expiry_policy_dates_new_points_and_shows_them_expiring_soon(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    status, body = api.call("PUT", "/v1/admin/loyalty/settings", {"expiry_days": 20}, token=tenant.owner_token)
    assert status == 200 and body == {"settings": {"expiry_days": 20}, "configured": True}, body
    cid = _campaign(api, tenant)
    inviter = _member(api, cid)
    join(api, cid, ref=inviter["invite_code"])
    pump.drain()
    mine = _mine(api, cid, inviter)
    [soon] = mine["expiring_soon"]
    assert soon["points"] == 100 and soon["expires_at"] == mine["entries"][0]["expires_at"]


def test_operators_manage_the_catalogue_and_analysts_may_not(api: Api, tenant: Tenant) -> None:
    item = _item(api, tenant, per_person_limit=2, description="500 ml")
    iid = item["item_id"]
    assert item["active"] and item["stock"] == 10 and item["per_person_limit"] == 2
    operator = tenant.operator("operator")
    status, changed = api.call("PATCH", f"/v1/admin/loyalty/catalogue/{iid}", {"stock": 25, "per_person_limit": None},
                               token=operator)  # fmt: skip
    assert status == 200 and changed["stock"] == 25 and changed["per_person_limit"] is None, changed
    status, listing = api.call("GET", "/v1/admin/loyalty/catalogue", token=operator)
    assert status == 200 and [i["item_id"] for i in listing["items"]] == [iid]
    analyst = tenant.operator("analyst")
    assert api.call("GET", "/v1/admin/loyalty/catalogue", token=analyst)[0] == 403
    assert api.call("DELETE", f"/v1/admin/loyalty/catalogue/{iid}", token=tenant.owner_token)[0] == 204
    status, body = api.call("GET", f"/v1/admin/loyalty/catalogue/{iid}", token=tenant.owner_token)
    assert status == 404 and body["error"]["code"] == "LOYALTY_ITEM_NOT_FOUND"


def test_a_redemption_is_idempotent_by_key_and_refuses_what_it_cannot_pay_for(api: Api, tenant: Tenant) -> None:
    cid = _campaign(api, tenant)
    member = _member(api, cid)
    _give(tenant.tid, member, 250)
    item = _item(api, tenant, per_person_limit=2)
    status, first = _redeem(api, cid, member, item["item_id"], "key-00000001")
    assert status == 201 and first["points"] == 100 and first["balance"] == 150, first
    status, again = _redeem(api, cid, member, item["item_id"], "key-00000001")
    assert status == 200 and again["redemption_id"] == first["redemption_id"], again
    other = _item(api, tenant, name="Mug", cost_points=10)
    status, body = _redeem(api, cid, member, other["item_id"], "key-00000001")
    assert status == 409 and body["error"]["code"] == "REDEMPTION_KEY_CONFLICT", body
    assert _redeem(api, cid, member, item["item_id"], "key-00000002")[0] == 201
    status, body = _redeem(api, cid, member, item["item_id"], "key-00000003")
    assert status == 409 and body["error"]["code"] == "REDEMPTION_LIMIT", body
    pricey = _item(api, tenant, name="Kettle", cost_points=60)
    status, body = _redeem(api, cid, member, pricey["item_id"], "key-00000004")
    assert (
        status == 409 and body["error"]["code"] == "INSUFFICIENT_POINTS" and body["error"]["details"]["balance"] == 50
    )
    gone = _item(api, tenant, name="Sticker", cost_points=1, stock=0)
    status, body = _redeem(api, cid, member, gone["item_id"], "key-00000005")
    assert status == 409 and body["error"]["code"] == "LOYALTY_ITEM_OUT_OF_STOCK", body
    status, body = api.call("POST", f"/v1/campaigns/{cid}/me/redemptions", {"item_id": item["item_id"]},
                            token=member["token"])  # fmt: skip
    assert status == 400 and body["error"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
    mine = _mine(api, cid, member)
    assert (mine["balance"], mine["spent"]) == (50, 200)
    assert [e["kind"] for e in mine["entries"]].count("redemption") == 2
    assert all(e["points"] == -100 for e in mine["entries"] if e["kind"] == "redemption")
    status, stocked = api.call("GET", f"/v1/admin/loyalty/catalogue/{item['item_id']}", token=tenant.owner_token)
    assert status == 200 and stocked["stock"] == 8


def _race(cid: str, member: dict[str, Any], item_id: str) -> tuple[list[dict[str, Any]], list[str]]:
    body = RedemptionCreate(item_id=item_id)
    now = datetime.now(UTC)

    def one(_: int) -> Any:
        try:
            view, created = points.redeem(cid, f"Bearer {member['token']}", body, uuid.uuid4().hex, now)
        except FissionError as exc:
            return str(exc.code)
        assert created
        return view

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(one, range(20)))
    return [o for o in outcomes if isinstance(o, dict)], [o for o in outcomes if isinstance(o, str)]


def test_twenty_parallel_redemptions_never_overdraw_the_points(api: Api, tenant: Tenant) -> None:
    cid = _campaign(api, tenant)
    member = _member(api, cid)
    _give(tenant.tid, member, 1000)
    item = _item(api, tenant, cost_points=150, stock=100)
    accepted, refused = _race(cid, member, item["item_id"])
    assert set(refused) <= {"INSUFFICIENT_POINTS", "POINTS_BUSY"}, refused
    assert 1 <= len(accepted) <= 6  # 1000 // 150
    mine = _mine(api, cid, member)
    assert mine["balance"] == 1000 - 150 * len(accepted) >= 0
    assert [e["kind"] for e in mine["entries"]].count("redemption") == len(accepted)
    status, stocked = api.call("GET", f"/v1/admin/loyalty/catalogue/{item['item_id']}", token=tenant.owner_token)
    assert stocked["stock"] == 100 - len(accepted)


def test_twenty_parallel_redemptions_never_oversell_the_stock(api: Api, tenant: Tenant) -> None:
    cid = _campaign(api, tenant)
    member = _member(api, cid)
    _give(tenant.tid, member, 10_000)
    item = _item(api, tenant, cost_points=10, stock=3)
    accepted, refused = _race(cid, member, item["item_id"])
    assert set(refused) <= {"LOYALTY_ITEM_OUT_OF_STOCK", "POINTS_BUSY"}, refused
    assert 1 <= len(accepted) <= 3
    status, stocked = api.call("GET", f"/v1/admin/loyalty/catalogue/{item['item_id']}", token=tenant.owner_token)
    assert stocked["stock"] == 3 - len(accepted) >= 0
    assert _mine(api, cid, member)["balance"] == 10_000 - 10 * len(accepted)


def _revoke(api: Api, tenant: Tenant, cid: str, member: dict[str, Any]) -> None:
    rid = f"{member['invite_code']}-m1"
    status, body = api.call("POST", f"/v1/admin/campaigns/{cid}/rewards/{rid}/revoke", {"reason": "fraud"},
                            token=tenant.owner_token)  # fmt: skip
    assert status == 200 and body["status"] == "revoked", body


def test_a_revoked_points_reward_takes_its_points_back_once_even_when_batches_arrive_twice(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = _campaign(api, tenant)
    deliver_every_batch_twice(pump)
    inviter = _member(api, cid)
    _give(tenant.tid, inviter, 40)
    join(api, cid, ref=inviter["invite_code"])
    pump.drain()
    assert _mine(api, cid, inviter)["balance"] == 140
    _revoke(api, tenant, cid, inviter)
    pump.drain()
    pump.drain()
    mine = _mine(api, cid, inviter)
    assert (mine["balance"], mine["earned"], mine["revoked"], mine["debt"]) == (40, 140, 100, 0), mine
    [taken] = [e for e in mine["entries"] if e["kind"] == "revocation"]
    rid = f"{inviter['invite_code']}-m1"
    assert taken["source"] == f"revocation:{rid}" and taken["points"] == -100 and taken["campaign_id"] == cid
    assert "revoked" in taken["explanation"] and rid in taken["explanation"]
    assert sum(e["points"] for e in mine["entries"]) == mine["balance"] - mine["debt"]


def test_points_spent_before_their_reward_is_revoked_leave_a_debt_that_later_points_pay_first(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = _campaign(api, tenant)
    inviter = _member(api, cid)
    join(api, cid, ref=inviter["invite_code"])
    pump.drain()
    item = _item(api, tenant, cost_points=80)
    assert _redeem(api, cid, inviter, item["item_id"], "key-debt-0001")[0] == 201
    _revoke(api, tenant, cid, inviter)
    pump.drain()
    mine = _mine(api, cid, inviter)
    # 20 were left to take back; the 80 spent are owed.
    assert (mine["balance"], mine["spent"], mine["revoked"], mine["debt"]) == (0, 80, 100, 80), mine
    time.sleep(1.01 - datetime.now(UTC).microsecond / 1e6)  # entries are dated to the second: a later one
    _give(tenant.tid, inviter, 50, ago=timedelta(0))  # earned after the revocation
    status, body = _redeem(api, cid, inviter, _item(api, tenant, name="Pen", cost_points=10)["item_id"], "key-debt-02")
    assert status == 409 and body["error"]["code"] == "INSUFFICIENT_POINTS" and body["error"]["details"]["balance"] == 0
    _give(tenant.tid, inviter, 100, ago=timedelta(0))
    mine = _mine(api, cid, inviter)
    assert (mine["balance"], mine["debt"]) == (70, 0), mine
    assert sum(e["debt_paid"] for e in mine["entries"] if e["kind"] == "check_in") == 80
    assert sum(e["points"] for e in mine["entries"]) == mine["balance"] - mine["debt"]


def test_a_points_reward_voided_while_held_takes_nothing_back(api: Api, tenant: Tenant) -> None:
    cid = _campaign(api, tenant)
    member = _member(api, cid)
    _give(tenant.tid, member, 40)
    at = iso(datetime.now(UTC))
    held = RewardImage(
        cid=cid, tid=tenant.tid, code=member["invite_code"], rule="m1", name="100 points", status="pending_release",
        created_at=at, type="points", points=100,
    )  # fmt: skip
    voided = replace(held, status="voided", revoked_at=at)
    points.on_reward(Change("reward", "MODIFY", held, voided, "1"))
    mine = _mine(api, cid, member)
    assert (mine["balance"], mine["revoked"], mine["debt"]) == (40, 0, 0), mine


def test_participants_see_the_items_on_offer_with_their_stock_and_no_operator_fields(api: Api, tenant: Tenant) -> None:
    cid = _campaign(api, tenant)
    pricey = _item(api, tenant, name="Kettle", cost_points=500, description="1.5 l", per_person_limit=1)
    cheap = _item(api, tenant, name="Mug", cost_points=50, stock=0)
    _item(api, tenant, name="Retired", cost_points=1, active=False)
    status, body = api.call("GET", f"/v1/campaigns/{cid}/catalogue")
    assert status == 200, body
    assert body == {"items": [
        {"item_id": cheap["item_id"], "name": "Mug", "description": None, "cost_points": 50, "stock": 0,
         "per_person_limit": None},
        {"item_id": pricey["item_id"], "name": "Kettle", "description": "1.5 l", "cost_points": 500, "stock": 10,
         "per_person_limit": 1},
    ]}  # fmt: skip
    assert api.call("GET", "/v1/campaigns/cmp_nosuchcampaign0/catalogue")[0] in (400, 404)


def test_the_data_subject_export_has_the_points_and_the_erasure_keeps_the_ledger(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = _campaign(api, tenant)
    inviter = _member(api, cid)
    join(api, cid, ref=inviter["invite_code"])
    pump.drain()
    item = _item(api, tenant, cost_points=30)
    assert _redeem(api, cid, inviter, item["item_id"], "key-export-01")[0] == 201
    token = inviter["token"]
    status, export = api.call("POST", "/v1/me/export", token=token, headers=proof(api, token))
    assert status == 200, export
    assert (export["points"]["balance"], export["points"]["spent"]) == (70, 30)
    # Both may fall in one second (timestamps have one-second precision): compared without their order.
    assert sorted(e["kind"] for e in export["points"]["entries"]) == ["redemption", "reward"]
    person = identity.by_code(inviter["invite_code"], consistent=True)
    assert person is not None
    assert api.call("DELETE", "/v1/me", token=token, headers=proof(api, token))[0] == 200
    # Points are the person's account with the merchant, not personal data: the ledger stays whole.
    assert len(ledger.ledger(tenant.tid, points.owner_of(person)).entries) == 2
