"""Check-ins, task progress, the tier and the churn score in the data-subject export and the erasure: exported whole,
then gone with the person's last campaign in the tenant (from the tier review index and the top-risk list too),
while the points ledger stays; an erasure repeated changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.audience import churn
from chalicelib.audience.store import churn as churn_store
from chalicelib.audience.store import profiles as profile_store
from chalicelib.core.clock import iso
from chalicelib.loyalty.store import checkins as checkin_store
from chalicelib.loyalty.store import ledger
from chalicelib.loyalty.store import tasks as task_store
from chalicelib.loyalty.store import tiers as tier_store
from chalicelib.referral import identity
from chalicelib.table import keys
from chalicelib.table.db import query_all
from local.pump import StreamPump
from tests.conftest import Api, Tenant, join, live_campaign, proof
from tests.integration.modes.test_orders_distribution import order, post_order
from tests.integration.referral.test_follow_hooks import secret

pytestmark = pytest.mark.integration

PROGRAMME = {"enabled": True, "cycle_days": 7, "ladder": [{"day": 1, "points": 5}], "makeup_cards_per_month": 2}
LADDER = {
    "measure": "qualified_invites", "window_days": 30, "grace_days": 7,
    "tiers": [{"id": "friend", "name": "Friend", "threshold": 1}],
}  # fmt: skip


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _setup(api: Api, tenant: Tenant) -> str:
    """The tenant's check-ins, a weekly check-in task of three days and a ladder of qualified invites."""
    token = tenant.owner_token
    assert api.call("PUT", "/v1/admin/loyalty/checkins", PROGRAMME, token=token)[0] == 200
    assert api.call("PUT", "/v1/admin/loyalty/tiers", LADDER, token=token)[0] == 200
    task = {"name": "Check in 3 days", "period": "weekly", "fact": "checked_in", "target": 3, "reward": {"points": 30}}
    status, made = api.call("POST", "/v1/admin/loyalty/tasks", task, token=token)
    assert status == 201, made
    return str(made["task_id"])


def _active(api: Api, tenant: Tenant, pump: StreamPump, cid: str, external_id: str) -> dict[str, Any]:
    """A member who checks in and brings a friend who qualifies (hence a tier and a tier fact)."""
    status, member = join(api, cid, external_id=external_id)
    assert status == 201, member
    assert api.call("POST", f"/v1/campaigns/{cid}/me/checkins", token=member["token"])[0] == 201
    assert join(api, cid, ref=member["invite_code"], external_id=_user())[0] == 201
    pump.drain()
    return dict(member)


def _person(member: dict[str, Any]) -> str:
    found = identity.by_code(member["invite_code"], consistent=True)
    assert found is not None and found.person
    return found.person


def _reviewed(tid: str, uid: str) -> bool:
    """Whether the person is in the tier review index (any due time)."""
    far = iso(datetime.now(UTC) + timedelta(days=3650))
    return any(
        (tid, uid) in tier_store.due(shard, far, 1000) for shard in range(tier_store.REVIEW_SHARDS)
    )  # fmt: skip


def _top(tid: str) -> set[str]:
    return {s.uid for s in churn_store.highest(tid, 100)}


def _kept_and_gone(tid: str, uid: str) -> dict[str, object]:
    profile = profile_store.get(tid, uid)
    return {
        "check-ins": checkin_store.history(tid, uid).days, "tasks": task_store.all_progress(tid, uid),
        "tier": tier_store.state(tid, uid).version, "tier facts": tier_store.all_facts(tid, uid),
        "review index": _reviewed(tid, uid), "score": churn_store.get_score(tid, uid), "top": uid in _top(tid),
        "profile level": profile.churn_level if profile else None, "tier on profile": profile.tier if profile else None,
    }  # fmt: skip


GONE = {
    "check-ins": [], "tasks": [], "tier": 0, "tier facts": [], "review index": False, "score": None, "top": False,
    "profile level": None, "tier on profile": None,
}  # fmt: skip


def _growth_markers(tid: str, uid: str) -> set[str]:
    """The kinds of the person's growth markers (`M#D|2026-12-08` is a `D`)."""
    found = query_all("growth markers", KeyConditionExpression="PK = :pk",
                      ExpressionAttributeValues={":pk": {"S": keys.growth_person_pk(tid, uid)}})  # fmt: skip
    return {i["SK"]["S"].removeprefix("M#").split("|")[0] for i in found}


def test_the_export_has_the_retention_data_and_the_erasure_takes_it_away_but_keeps_the_points(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    task_id = _setup(api, tenant)
    cid = live_campaign(api, tenant)
    user = _user()
    member = _active(api, tenant, pump, cid, user)
    other = _active(api, tenant, pump, cid, _user())
    tid, uid, others = tenant.tid, _person(member), _person(other)
    assert churn.score_tenant(tid, datetime.now(UTC))["scored"] >= 2
    pump.drain()
    assert {uid, others} <= _top(tid) and _reviewed(tid, uid)

    assert {"D", "W", "MO", "START"} <= _growth_markers(tid, uid)
    token = member["token"]
    status, export = api.call("POST", "/v1/me/export", token=token, headers=proof(api, token))
    assert status == 200, export
    days = export["checkins"]["days"]
    assert [(d["points"], d["made_up"], d["campaign_id"]) for d in days] == [(5, False, cid)], days
    assert [(t["task_id"], t["progress"], t["target"], t["done"]) for t in export["tasks"]] == [(task_id, 1, 3, False)]
    tier = export["tier"]
    assert (tier["tier"], tier["tier_name"], tier["value"]) == ("friend", "Friend", 1), tier
    # The invitee behind the fact is someone else: a count, not a code.
    assert [(f["kind"], f["order_id"], f["amount"]) for f in tier["facts"]] == [("invite", None, 1)]
    scored = export["churn"]
    assert scored["level"] in ("low", "medium", "high") and 0 <= scored["risk"] <= 1, scored
    assert scored["explanation"] and {"feature", "raw", "contribution"} <= set(scored["explanation"][0])
    assert scored["model"] == "default" and "logistic model" in scored["logic"]
    assert [e["kind"] for e in export["points"]["entries"]] == ["check_in"]

    status, erased = api.call("DELETE", "/v1/me", token=token, headers=proof(api, token))
    assert status == 200, erased
    pump.drain()
    assert _kept_and_gone(tid, uid) == GONE
    # The days, weeks and months they were active go; their start stays, so a redelivered join is not new again.
    assert "START" in _growth_markers(tid, uid) and not {"D", "W", "MO"} & _growth_markers(tid, uid)
    # What the merchant gave stays: the check-in's points, keyed by the pseudonymous person.
    assert [e.source for e in ledger.ledger(tid, uid).entries] == [f"check_in:{days[0]['date']}"]
    # The others keep theirs, and the next day's run does not score the erased person again.
    assert _kept_and_gone(tid, others)["score"] is not None and _reviewed(tid, others)
    assert churn.score_tenant(tid, datetime.now(UTC) + timedelta(days=1))["scored"] >= 1
    pump.drain()
    assert uid not in _top(tid) and others in _top(tid)

    again = api.call("DELETE", "/v1/me", token=token)
    assert again == (200, erased)
    pump.drain()
    assert _kept_and_gone(tid, uid) == GONE

    # Back the same day through another campaign: a fresh start, and the day's points were given once already.
    back_cid = live_campaign(api, tenant)
    status, back = join(api, back_cid, external_id=user)
    assert status == 201 and _person(back) == uid, back
    status, day = api.call("POST", f"/v1/campaigns/{back_cid}/me/checkins", token=back["token"])
    assert status == 201 and (day["date"], day["points"]) == (days[0]["date"], 0), day
    assert [e.source for e in ledger.ledger(tid, uid).entries] == [f"check_in:{days[0]['date']}"]


def test_a_person_still_in_another_campaign_keeps_them_until_their_last_one_is_erased(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    _setup(api, tenant)
    first, second = live_campaign(api, tenant), live_campaign(api, tenant)
    user = _user()
    member = _active(api, tenant, pump, first, user)
    status, there = join(api, second, external_id=user)
    assert status == 201, there
    pump.drain()
    tid, uid = tenant.tid, _person(member)
    assert _person(there) == uid
    churn.score_tenant(tid, datetime.now(UTC))
    before = _kept_and_gone(tid, uid)
    assert before["check-ins"] and before["tier"] and before["top"] and before["review index"]

    token = member["token"]
    assert api.call("DELETE", "/v1/me", token=token, headers=proof(api, token))[0] == 200
    pump.drain()
    kept = _kept_and_gone(tid, uid)
    # The second campaign still counts on them: the streak, the tier and its review, the score stay.
    assert {k: bool(kept[k]) for k in ("check-ins", "tasks", "tier", "tier facts", "review index", "score")} == {
        "check-ins": True, "tasks": True, "tier": True, "tier facts": True, "review index": True, "score": True,
    }  # fmt: skip

    token = there["token"]
    assert api.call("DELETE", "/v1/me", token=token, headers=proof(api, token))[0] == 200
    pump.drain()
    assert _kept_and_gone(tid, uid) == GONE


def test_an_earlier_order_refunded_after_the_erasure_writes_no_tier_fact_again(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    _setup(api, tenant)
    cid = live_campaign(api, tenant, "distribution")
    buyer = _user()
    status, member = join(api, cid, external_id=buyer)
    assert status == 201, member
    key, oid = secret(api, tenant), f"o-{uuid.uuid4().hex[:8]}"
    assert post_order(api, tenant, key, order(cid, buyer, oid, amount=12_000))[0] == 200
    pump.drain()
    tid, uid = tenant.tid, _person(member)
    assert [(kind, at_key) for kind, at_key, _ in tier_store.all_facts(tid, uid)] == [("order", oid)]

    token = member["token"]
    assert api.call("DELETE", "/v1/me", token=token, headers=proof(api, token))[0] == 200
    pump.drain()
    assert tier_store.all_facts(tid, uid) == [] and tier_store.state(tid, uid).version == 0
    # Refunds of earlier orders still apply (commission is clawed back); the tier is not written again.
    assert post_order(api, tenant, key, order(cid, buyer, oid, status="refunded", amount=12_000))[0] == 200
    pump.drain()
    assert tier_store.all_facts(tid, uid) == [] and tier_store.state(tid, uid).version == 0
