"""Tasks: progress counted from the stream's facts, a reward once per period, resets on the tenant's local day and
week, and tasks that stop counting when paused or deleted."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.core.clock import iso
from chalicelib.loyalty import points, tasks
from chalicelib.loyalty.rules.tasks import Fact, FactKind, Period, period_key
from chalicelib.loyalty.store import ledger
from chalicelib.loyalty.store import tasks as task_store
from chalicelib.referral import identity
from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice
from tests.integration.modes.test_orders_distribution import order, post_order
from tests.integration.referral.test_follow_hooks import secret

pytestmark = pytest.mark.integration

SHANGHAI = "Asia/Shanghai"  # the tenants' default zone


def _task(api: Api, tenant: Tenant, **fields: Any) -> dict[str, Any]:
    body = {"name": "Invite 2 friends", "period": "weekly", "fact": "invited", "target": 2,
            "reward": {"points": 50}, **fields}  # fmt: skip
    status, made = api.call("POST", "/v1/admin/loyalty/tasks", body, token=tenant.owner_token)
    assert status == 201, made
    return dict(made)


def _member(api: Api, cid: str, **fields: Any) -> dict[str, Any]:
    status, body = join(api, cid, external_id=fields.pop("external_id", f"user-{uuid.uuid4().hex[:8]}"), **fields)
    assert status == 201, body
    return dict(body)


def _my_tasks(api: Api, cid: str, member: dict[str, Any]) -> dict[str, dict[str, Any]]:
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me/tasks", token=member["token"])
    assert status == 200, body
    return {t["task_id"]: t for t in body["tasks"]}


def _task_entries(api: Api, cid: str, member: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me/points", token=member["token"])
    assert status == 200, body
    return [e for e in body["entries"] if e["kind"] == "task"]


def _owner(member: dict[str, Any]) -> str:
    found = identity.by_code(member["invite_code"], consistent=True)
    assert found is not None
    return points.owner_of(found)


def _view(api: Api, cid: str, member: dict[str, Any]) -> None:
    status, body = api.call("POST", f"/v1/campaigns/{cid}/events", {"type": "view"}, token=member["token"])
    assert status == 202, body


def test_operators_manage_tasks_and_analysts_may_not(api: Api, tenant: Tenant) -> None:
    made = _task(api, tenant, name="每日签到 5 天", period="weekly", fact="checked_in", target=5)
    tid = made["task_id"]
    assert made["active"] and made["reward"] == {"points": 50} and made["campaign_id"] is None
    operator = tenant.operator("operator")
    status, changed = api.call("PATCH", f"/v1/admin/loyalty/tasks/{tid}",
                               {"target": 4, "reward": {"points": 80}, "active": False}, token=operator)  # fmt: skip
    assert status == 200 and (changed["target"], changed["reward"], changed["active"]) == (4, {"points": 80}, False)
    assert changed["name"] == "每日签到 5 天"
    status, listing = api.call("GET", "/v1/admin/loyalty/tasks", token=operator)
    assert status == 200 and [t["task_id"] for t in listing["tasks"]] == [tid]
    assert api.call("GET", f"/v1/admin/loyalty/tasks/{tid}", token=operator)[1]["target"] == 4
    analyst = tenant.operator("analyst")
    assert api.call("GET", "/v1/admin/loyalty/tasks", token=analyst)[0] == 403
    bad = {"name": "x", "period": "monthly", "fact": "joined", "target": 1, "reward": {"points": 1}}
    status, body = api.call("POST", "/v1/admin/loyalty/tasks", bad, token=tenant.owner_token)
    assert status == 422 and body["error"]["code"] == "VALIDATION_ERROR", body
    assert api.call("DELETE", f"/v1/admin/loyalty/tasks/{tid}", token=tenant.owner_token)[0] == 204
    status, body = api.call("GET", f"/v1/admin/loyalty/tasks/{tid}", token=tenant.owner_token)
    assert status == 404 and body["error"]["code"] == "LOYALTY_TASK_NOT_FOUND"
    status, body = api.call("PATCH", f"/v1/admin/loyalty/tasks/{tid}", {"active": True}, token=tenant.owner_token)
    assert status == 404 and body["error"]["code"] == "LOYALTY_TASK_NOT_FOUND"


def test_joins_invites_and_paid_orders_complete_tasks_once_even_when_batches_arrive_twice(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    cid = live_campaign(api, tenant)
    joined = _task(api, tenant, name="Join", period="once", fact="joined", target=1, reward={"points": 10})
    invited = _task(api, tenant)
    paid = _task(api, tenant, name="Buy today", period="daily", fact="order_paid", target=1, reward={"points": 20})
    deliver_every_batch_twice(pump)
    buyer = f"buyer-{uuid.uuid4().hex[:8]}"
    inviter = _member(api, cid, external_id=buyer)
    _member(api, cid, ref=inviter["invite_code"])
    pump.drain()
    mine = _my_tasks(api, cid, inviter)
    assert (mine[joined["task_id"]]["progress"], mine[joined["task_id"]]["done"]) == (1, True)
    assert (mine[invited["task_id"]]["progress"], mine[invited["task_id"]]["done"]) == (1, False)
    assert mine[paid["task_id"]]["progress"] == 0
    for _ in range(2):  # the second friend reaches the target, the third comes after it
        _member(api, cid, ref=inviter["invite_code"])
        pump.drain()
    key = secret(api, tenant)
    assert post_order(api, tenant, key, order(cid, buyer, f"o-{uuid.uuid4().hex[:8]}"))[0] == 200
    pump.drain()
    pump.drain()
    mine = _my_tasks(api, cid, inviter)
    assert (mine[invited["task_id"]]["progress"], mine[invited["task_id"]]["done"]) == (2, True)
    assert (mine[paid["task_id"]]["progress"], mine[paid["task_id"]]["done"]) == (1, True)
    assert mine[invited["task_id"]]["reward"] == {"points": 50}
    entries = _task_entries(api, cid, inviter)
    now = datetime.now(UTC)
    week, day = period_key(Period.WEEKLY, now, SHANGHAI), period_key(Period.DAILY, now, SHANGHAI)
    assert sorted((e["source"], e["points"]) for e in entries) == sorted([
        (f"task:{joined['task_id']}:ONCE", 10), (f"task:{invited['task_id']}:{week}", 50),
        (f"task:{paid['task_id']}:{day}", 20),
    ])  # fmt: skip
    assert any("Invite 2 friends" in e["explanation"] for e in entries)
    # The friends' own joins count for them, not for the inviter.
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me/points", token=inviter["token"])
    assert body["balance"] == 80, body


def test_a_help_counts_for_the_helper_in_the_tasks_campaign_only(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid, other = live_campaign(api, tenant, "assist"), live_campaign(api, tenant)
    helped = _task(api, tenant, name="Help a friend", period="daily", fact="helped", target=1, campaign_id=cid)
    owner, helper = _member(api, cid), _member(api, cid)
    status, body = api.call("POST", f"/v1/campaigns/{cid}/assists/{owner['invite_code']}", {}, token=helper["token"])
    assert status in (200, 201), body
    pump.drain()
    assert _my_tasks(api, cid, helper)[helped["task_id"]]["done"] is True
    assert _my_tasks(api, cid, owner)[helped["task_id"]]["progress"] == 0
    # A task of one campaign is not shown in another.
    assert helped["task_id"] not in _my_tasks(api, other, _member(api, other))


def test_a_daily_task_starts_over_on_the_next_local_day(
    api: Api, tenant: Tenant, pump: StreamPump, clock: Clock
) -> None:
    cid = live_campaign(api, tenant)
    viewed = _task(api, tenant, name="Read 2 pages", period="daily", fact="viewed", target=2, reward={"points": 5})
    member = _member(api, cid)
    deliver_every_batch_twice(pump)
    for _ in range(3):
        _view(api, cid, member)
    pump.drain()
    today = _my_tasks(api, cid, member)[viewed["task_id"]]
    assert (today["progress"], today["done"]) == (2, True)
    assert datetime.fromisoformat(today["resets_at"]) <= clock() + timedelta(days=1)
    clock.advance(days=1)
    tomorrow = _my_tasks(api, cid, member)[viewed["task_id"]]
    assert (tomorrow["progress"], tomorrow["done"]) == (0, False)
    assert tomorrow["period_key"] != today["period_key"] and tomorrow["resets_at"] > today["resets_at"]
    _view(api, cid, member)
    _view(api, cid, member)
    pump.drain()
    assert _my_tasks(api, cid, member)[viewed["task_id"]]["done"] is True
    sources = sorted(e["source"] for e in _task_entries(api, cid, member))
    assert sources == sorted(f"task:{viewed['task_id']}:{p['period_key']}" for p in (today, tomorrow))


def test_check_ins_through_the_seam_count_once_per_fact_and_start_over_on_monday(
    api: Api, tenant: Tenant, clock: Clock
) -> None:
    cid = live_campaign(api, tenant)
    weekly = _task(api, tenant, name="签到 2 天", period="weekly", fact="checked_in", target=2, reward={"points": 30})
    member = _member(api, cid)
    uid = _owner(member)
    saturday = datetime(2026, 12, 12, 2, tzinfo=UTC)  # 10:00 in Shanghai, ISO week 50
    sunday, monday = saturday + timedelta(days=1), saturday + timedelta(days=2)
    assert tasks.record(tenant.tid, uid, FactKind.CHECKED_IN, saturday, "checked_in:2026-12-12") == []
    # The same check-in again (a retried record) does not count twice.
    assert tasks.record(tenant.tid, uid, FactKind.CHECKED_IN, saturday, "checked_in:2026-12-12") == []
    done = tasks.record(tenant.tid, uid, FactKind.CHECKED_IN, sunday, "checked_in:2026-12-13")
    assert done == [f"task:{weekly['task_id']}:W2026-W50"]
    assert tasks.record(tenant.tid, uid, FactKind.CHECKED_IN, sunday, "checked_in:2026-12-13") == []
    assert tasks.record(tenant.tid, uid, FactKind.CHECKED_IN, monday, "checked_in:2026-12-14") == []
    counted = task_store.progress(tenant.tid, uid, [(weekly["task_id"], "W2026-W50"), (weekly["task_id"], "W2026-W51")])
    assert counted == {(weekly["task_id"], "W2026-W50"): 2, (weekly["task_id"], "W2026-W51"): 1}
    clock.offset = monday - datetime.now(UTC)  # the participant looks on that Monday
    shown = _my_tasks(api, cid, member)[weekly["task_id"]]
    assert (shown["progress"], shown["done"], shown["period_key"]) == (1, False, "W2026-W51")
    assert shown["resets_at"] == "2026-12-20T16:00:00Z"  # the next Monday, 00:00 in Shanghai


def test_a_paused_or_deleted_task_stops_counting(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    cid = live_campaign(api, tenant)
    paused = _task(api, tenant, name="Read 5 pages", period="daily", fact="viewed", target=5)
    deleted = _task(api, tenant, name="Read 3 pages", period="daily", fact="viewed", target=3)
    member = _member(api, cid)
    _view(api, cid, member)
    pump.drain()
    assert _my_tasks(api, cid, member)[paused["task_id"]]["progress"] == 1
    status, _ = api.call("PATCH", f"/v1/admin/loyalty/tasks/{paused['task_id']}", {"active": False},
                         token=tenant.owner_token)  # fmt: skip
    assert status == 200
    assert api.call("DELETE", f"/v1/admin/loyalty/tasks/{deleted['task_id']}", token=tenant.owner_token)[0] == 204
    assert paused["task_id"] not in _my_tasks(api, cid, member)
    time.sleep(1.1)  # a beacon a second later, so it is a new fact however the clock rounds
    _view(api, cid, member)
    pump.drain()
    day = period_key(Period.DAILY, datetime.now(UTC), SHANGHAI)
    assert task_store.progress(tenant.tid, _owner(member), [(deleted["task_id"], day)]) == {
        (deleted["task_id"], day): 1
    }
    status, _ = api.call("PATCH", f"/v1/admin/loyalty/tasks/{paused['task_id']}", {"active": True},
                         token=tenant.owner_token)  # fmt: skip
    assert _my_tasks(api, cid, member)[paused["task_id"]]["progress"] == 1


def test_real_check_ins_and_a_make_up_count_for_a_check_in_task_from_the_stream(
    api: Api, tenant: Tenant, clock: Clock, pump: StreamPump
) -> None:
    programme = {"enabled": True, "cycle_days": 7, "ladder": [{"day": 1, "points": 5}], "makeup_cards_per_month": 2}
    assert api.call("PUT", "/v1/admin/loyalty/checkins", programme, token=tenant.owner_token)[0] == 200
    weekly = _task(api, tenant, name="签到 2 天", period="weekly", fact="checked_in", target=2, reward={"points": 30})
    cid = live_campaign(api, tenant)
    member = _member(api, cid)
    deliver_every_batch_twice(pump)
    tuesday = datetime(2026, 12, 15, 4, tzinfo=UTC)  # 12:00 in Shanghai, ISO week 51
    clock.offset = tuesday - datetime.now(UTC)
    assert api.call("POST", f"/v1/campaigns/{cid}/me/checkins", token=member["token"])[0] == 201
    pump.drain()
    assert _my_tasks(api, cid, member)[weekly["task_id"]]["progress"] == 1
    clock.offset = tuesday + timedelta(days=2) - datetime.now(UTC)  # Thursday: Wednesday was missed
    made_up = api.call("POST", f"/v1/campaigns/{cid}/me/checkins/makeup", {"date": "2026-12-16"}, token=member["token"])
    assert made_up[0] == 201, made_up
    assert api.call("POST", f"/v1/campaigns/{cid}/me/checkins", token=member["token"])[0] == 201
    pump.drain()
    shown = _my_tasks(api, cid, member)[weekly["task_id"]]
    assert (shown["progress"], shown["done"], shown["period_key"]) == (2, True, "W2026-W51")
    assert [e["points"] for e in _task_entries(api, cid, member)] == [30]


def test_a_task_reward_is_dated_at_the_fact_that_reached_the_target(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    weekly = _task(api, tenant, name="Read 2 pages", period="weekly", fact="viewed", target=2, reward={"points": 15})
    uid = _owner(_member(api, cid))
    monday = datetime(2026, 11, 16, 2, tzinfo=UTC)  # 10:00 in Shanghai, ISO week 47
    # Three views in one batch, their ids in another order than their times: the second view reached the target.
    views = [
        Fact(FactKind.VIEWED, f"viewed:EV#{name}", monday + timedelta(hours=hours), cid)
        for name, hours in (("c", 1), ("a", 30), ("b", 50))
    ]
    assert tasks.count(tenant.tid, uid, views) == [f"task:{weekly['task_id']}:W2026-W47"]
    # The next week: one view counted first, then two in one batch; the earlier of those two reached it.
    later = [Fact(FactKind.VIEWED, f"viewed:EV#w48-{n}", monday + timedelta(days=7, hours=h), cid)
             for n, h in ((1, 1), (2, 3), (3, 2))]  # fmt: skip
    assert tasks.count(tenant.tid, uid, later[:1]) == []
    assert tasks.count(tenant.tid, uid, later[1:]) == [f"task:{weekly['task_id']}:W2026-W48"]
    assert tasks.count(tenant.tid, uid, views + later) == []  # delivered again: nothing more
    dated = {e.source: e.created_at for e in ledger.ledger(tenant.tid, uid).entries}
    assert dated == {
        f"task:{weekly['task_id']}:W2026-W47": iso(monday + timedelta(hours=30)),
        f"task:{weekly['task_id']}:W2026-W48": iso(monday + timedelta(days=7, hours=2)),
    }
