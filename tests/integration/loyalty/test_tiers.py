"""Membership tiers: up at once from points, orders and invites, down only by the daily review after the grace
period, the multiplier on points rewards, tier-only campaigns, and the tier on profiles, segments and automations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.clock import iso
from chalicelib.entrypoints import events as handlers
from chalicelib.loyalty import points
from chalicelib.loyalty.rules.points import Kind, PointsEntry
from chalicelib.loyalty.store import ledger
from chalicelib.loyalty.store import tiers as tier_store
from chalicelib.messaging import messages
from chalicelib.referral import identity
from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice
from tests.integration.modes.test_orders_distribution import order, post_order
from tests.integration.referral.test_follow_hooks import secret

pytestmark = pytest.mark.integration

LADDER = {
    "measure": "points_earned",
    "window_days": 30,
    "grace_days": 7,
    "tiers": [
        {"id": "silver", "name": "Silver", "threshold": 50},
        {"id": "gold", "name": "Gold", "threshold": 100, "multiplier": 1.5},
    ],
}
TWO_REWARDS = {
    "qualifying_action": "join",
    "milestones": [
        {"invites": 1, "reward": {"type": "points", "name": "100 points", "points": 100}},
        {"invites": 2, "reward": {"type": "points", "name": "Another 100", "points": 100}},
    ],
}


def _user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


def _ladder(api: Api, tenant: Tenant, **overrides: Any) -> dict[str, Any]:
    status, body = api.call("PUT", "/v1/admin/loyalty/tiers", {**LADDER, **overrides}, token=tenant.owner_token)
    assert status == 200, body
    return dict(body)


def _tier(api: Api, cid: str, member: dict[str, Any]) -> dict[str, Any]:
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me/tier", token=member["token"])
    assert status == 200, body
    return dict(body)


def _uid(member: dict[str, Any]) -> str:
    found = identity.by_code(member["invite_code"], consistent=True)
    assert found is not None
    return points.owner_of(found)


def _give(tid: str, member: dict[str, Any], amount: int) -> None:
    now = datetime.now(UTC) - timedelta(seconds=5)
    entry = PointsEntry(
        source=f"checkin:{uuid.uuid4().hex}", kind=Kind.CHECK_IN, points=amount, created_at=iso(now),
        explanation="daily check-in", expires_at=iso(now + timedelta(days=365)),
    )  # fmt: skip
    assert ledger.credit(tid, _uid(member), entry)


def _rule(api: Api, tenant: Tenant) -> str:
    rule = {
        "name": "Congratulate",
        "trigger": {"type": "tier_changed"},
        "conditions": "tier = gold",
        "actions": [
            {"type": "send_message", "channel": "console", "template": {"zh": "欢迎升级", "en": "Welcome to Gold"}}
        ],
    }
    status, created = api.call("POST", "/v1/admin/automations", rule, token=tenant.owner_token)
    assert status == 201, created
    return str(created["id"])


def _sent(api: Api, tenant: Tenant, aid: str) -> list[dict[str, Any]]:
    messages.deliver(datetime.now(UTC) + timedelta(minutes=1))
    status, body = api.call("GET", "/v1/admin/messages?channel=console", token=tenant.owner_token)
    assert status == 200, body
    return [m for m in body["items"] if m["automation_id"] == aid]


def test_operators_set_the_ladder_and_bad_ladders_are_refused(api: Api, tenant: Tenant) -> None:
    status, body = api.call("GET", "/v1/admin/loyalty/tiers", token=tenant.owner_token)
    assert status == 200 and body["configured"] is False and body["rules"]["tiers"] == [], body
    body = _ladder(api, tenant)
    assert body["configured"] and [t["id"] for t in body["rules"]["tiers"]] == ["silver", "gold"]
    assert body["rules"]["tiers"][1]["multiplier"] == 1.5
    bad = {**LADDER, "tiers": [{"id": "a", "name": "A", "threshold": 9}, {"id": "b", "name": "B", "threshold": 3}]}
    status, body = api.call("PUT", "/v1/admin/loyalty/tiers", bad, token=tenant.owner_token)
    assert status == 422, body
    assert api.call("GET", "/v1/admin/loyalty/tiers", token=tenant.operator("analyst"))[0] == 403


def test_points_upgrade_at_once_the_multiplier_pays_and_tier_changed_fires_once(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    _ladder(api, tenant)
    aid = _rule(api, tenant)
    cid = live_campaign(api, tenant, "invite", rules=TWO_REWARDS)
    deliver_every_batch_twice(pump)
    inviter = join(api, cid, external_id=_user())[1]
    join(api, cid, ref=inviter["invite_code"], external_id=_user())
    pump.drain()
    pump.drain()
    mine = _tier(api, cid, inviter)
    assert mine["tier"]["id"] == "gold" and mine["value"] == 100 and mine["next"] is None, mine
    assert mine["below_threshold"] is False and mine["grace_deadline"] is None
    status, me = api.call("GET", f"/v1/campaigns/{cid}/me", token=inviter["token"])
    assert status == 200 and me["tier"] == {"id": "gold", "name": "Gold"}, me
    # The next points reward is credited x1.5, and says so.
    join(api, cid, ref=inviter["invite_code"], external_id=_user())
    pump.drain()
    pump.drain()
    status, ledger_view = api.call("GET", f"/v1/campaigns/{cid}/me/points", token=inviter["token"])
    assert status == 200 and ledger_view["balance"] == 250, ledger_view
    second = next(e for e in ledger_view["entries"] if e["source"].endswith("-m2"))
    assert second["points"] == 150 and "x1.5 for tier Gold" in second["explanation"], second
    # One message for the one change, however often its batches came.
    assert len(_sent(api, tenant, aid)) == 1
    status, found = api.call("GET", f"/v1/admin/participants?code={inviter['invite_code']}", token=tenant.owner_token)
    assert status == 200 and found["items"][0]["tier"]["id"] == "gold", found
    status, preview = api.call("POST", "/v1/admin/segments/preview", {"expression": "tier = gold AND tier_rank >= 2"},
                               token=tenant.owner_token)  # fmt: skip
    assert status == 200 and preview["count"] == 1, preview


def test_spend_upgrades_and_only_the_daily_review_downgrades_after_the_grace_period(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ladder(api, tenant, measure="spend_fen", window_days=7, grace_days=3,
            tiers=[{"id": "vip", "name": "VIP", "threshold": 10_000}])  # fmt: skip
    cid = live_campaign(api, tenant, "distribution")
    deliver_every_batch_twice(pump)
    buyer = _user()
    member = join(api, cid, external_id=buyer)[1]
    key, oid = secret(api, tenant), f"o-{uuid.uuid4().hex[:8]}"
    assert post_order(api, tenant, key, order(cid, buyer, oid, amount=12_000))[0] == 200
    pump.drain()
    assert _tier(api, cid, member)["tier"]["id"] == "vip"
    # A refund lowers the measure; the stream never takes a tier away.
    assert post_order(api, tenant, key, order(cid, buyer, oid, status="refunded", amount=12_000))[0] == 200
    pump.drain()
    mine = _tier(api, cid, member)
    assert mine["tier"]["id"] == "vip" and mine["value"] == 0 and mine["below_threshold"] is True, mine
    uid, start = _uid(member), datetime.now(UTC)
    moment = [start]
    monkeypatch.setattr(handlers, "utcnow", lambda: moment[0])
    scheduler = Scheduler(app, clock=lambda: moment[0])

    def review(after: timedelta) -> dict[str, int]:
        moment[0] = start + after
        counts: dict[str, int] = scheduler.invoke("review_tiers")
        assert counts["errors"] == 0, counts
        return counts

    # The first review below the threshold starts the grace period; reviews within it change nothing.
    review(timedelta(days=1, minutes=1))
    state = tier_store.state(tenant.tid, uid)
    assert state.tier == "vip" and state.below_since is not None
    review(timedelta(days=3, minutes=2))
    review(timedelta(days=3, minutes=2))
    assert tier_store.state(tenant.tid, uid).tier == "vip"
    # Past the grace period: down (here to no tier), once.
    review(timedelta(days=4, minutes=3))
    after = tier_store.state(tenant.tid, uid)
    assert after.tier is None and after.previous == "vip" and after.review_at is None
    review(timedelta(days=5, minutes=3))
    assert tier_store.state(tenant.tid, uid) == after
    pump.drain()
    status, me = api.call("GET", f"/v1/campaigns/{cid}/me", token=member["token"])
    assert status == 200 and me["tier"] is None


def test_qualified_invites_count_for_the_inviters_person(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    _ladder(api, tenant, measure="qualified_invites", tiers=[{"id": "ambassador", "name": "Ambassador",
                                                              "threshold": 2}])  # fmt: skip
    cid = live_campaign(api, tenant)
    inviter = join(api, cid, external_id=_user())[1]
    join(api, cid, ref=inviter["invite_code"], external_id=_user())
    pump.drain()
    mine = _tier(api, cid, inviter)
    assert mine["tier"] is None and mine["value"] == 1 and mine["next"]["distance"] == 1, mine
    join(api, cid, ref=inviter["invite_code"], external_id=_user())
    pump.drain()
    assert _tier(api, cid, inviter)["tier"]["id"] == "ambassador"


def test_a_tier_only_campaign_refuses_a_lower_tier_and_admits_the_tier(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    _ladder(api, tenant)
    lobby = live_campaign(api, tenant)
    gold_user, silver_user, nobody = _user(), _user(), _user()
    gold = join(api, lobby, external_id=gold_user)[1]
    silver = join(api, lobby, external_id=silver_user)[1]
    _give(tenant.tid, gold, 120)
    _give(tenant.tid, silver, 60)
    pump.drain()
    vip = live_campaign(api, tenant, min_tier="gold")
    status, body = join(api, vip, external_id=silver_user)
    assert status == 403 and body["error"]["code"] == "TIER_REQUIRED", body
    assert body["error"]["details"] == {"min_tier": "gold", "tier": "silver"}
    status, body = join(api, vip, external_id=nobody)
    assert status == 403 and body["error"]["details"]["tier"] is None, body
    status, body = join(api, vip, external_id=gold_user)
    assert status == 201, body
    assert join(api, live_campaign(api, tenant, min_tier="silver"), external_id=gold_user)[0] == 201
