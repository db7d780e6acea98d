"""Growth KPIs and weekly cohorts: a simulated 60-day tenant's figures equal its own truth exactly, with every
stream batch delivered twice; quarterly targets and who may set them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.core.clock import iso
from chalicelib.entrypoints import events as handlers
from chalicelib.loyalty import points
from chalicelib.loyalty.store import tiers as tier_store
from chalicelib.referral import identity
from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Clock, Tenant, join, live_campaign
from tests.integration.analytics.growth_sim import (
    CHECKINS,
    INVITEE_REWARD_FEN,
    INVITER_REWARD_FEN,
    TASKS,
    TIER_GRACE_DAYS,
    TIER_THRESHOLDS,
    TIER_WINDOW_DAYS,
    TIERS,
    ZONE,
    Simulation,
)
from tests.integration.conftest import deliver_every_batch_twice
from tests.integration.modes.test_orders_distribution import post_order
from tests.integration.referral.test_follow_hooks import secret

pytestmark = pytest.mark.integration

RULES = {
    "qualifying_action": "join",
    "milestones": [{"invites": 1, "reward": {"type": "coupon", "name": "5 yuan", "value_fen": INVITER_REWARD_FEN,
                                             "stock": 1000}}],
    "invitee_reward": {"type": "coupon", "name": "Welcome", "value_fen": INVITEE_REWARD_FEN, "stock": 1000},
}  # fmt: skip


def _pct(n: int, d: int) -> int | None:
    return (200 * n + d) // (2 * d) if d else None


@pytest.fixture
def simulation(
    api: Api, tenant: Tenant, clock: Clock, make_pump: Callable[..., StreamPump], client_ip: Callable[[], str]
) -> Simulation:
    pump = make_pump(batch_size=500)
    key = secret(api, tenant)
    sim = Simulation(api, tenant, clock, "", lambda payload, stamp: post_order(api, tenant, key, payload, stamp=stamp),
                     client_ip)  # fmt: skip
    begins = sim.moment(0, 0) - timedelta(hours=2)
    window = {"starts_at": begins.strftime("%Y-%m-%dT%H:%M:%SZ"),
              "ends_at": (begins + timedelta(days=sim.days + 30)).strftime("%Y-%m-%dT%H:%M:%SZ")}  # fmt: skip
    sim.cid = live_campaign(api, tenant, "invite", rules=RULES, **window)  # created now, live since `begins`
    for path, body in (("checkins", CHECKINS), ("tiers", TIERS)):
        status, saved = api.call("PUT", f"/v1/admin/loyalty/{path}", body, token=tenant.owner_token)
        assert status == 200, saved
    for task in TASKS:
        status, saved = api.call("POST", "/v1/admin/loyalty/tasks", task, token=tenant.owner_token)
        assert status == 201, saved
    deliver_every_batch_twice(pump)
    sim.run(lambda: pump.drain(timeout=60))
    return sim


def _get(api: Api, tenant: Tenant, path: str) -> dict[str, Any]:
    status, body = api.call("GET", path, token=tenant.operator("analyst"))
    assert status == 200, body
    return dict(body)


def test_a_simulated_tenants_kpis_and_cohorts_equal_its_truth_with_every_batch_delivered_twice(
    app: Any, api: Api, tenant: Tenant, simulation: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    truth, first = simulation.truth, simulation.first_day
    today = first + timedelta(days=simulation.days)
    growth = _get(api, tenant, f"/v1/admin/growth?from={first.isoformat()}&to={today.isoformat()}")
    expected = truth.expected_days(first, today)
    got = {row["date"]: {k: row[k] for k in ("new", "active", "activated", "paid")} for row in growth["days"]}
    assert got == expected
    new, activated, paid = (sum(r[k] for r in expected.values()) for k in ("new", "activated", "paid"))
    assert (
        new == len(simulation.people) and 0 < paid < new and 0 < activated < new
    )  # the simulation exercised each figure
    totals = growth["totals"]
    assert (totals["new"], totals["activated"], totals["paid"]) == (new, activated, paid)
    assert totals["activation_pct"] == _pct(activated, new) and totals["paid_conversion_pct"] == _pct(paid, new)
    assert {m["month"]: m["active"] for m in growth["months"]} == truth.expected_months()
    channels = {c["channel"]: c for c in growth["channels"]}
    for channel, spent in truth.expected_channels().items():
        have = channels[channel]
        assert (have["new"], have["reward_cost_fen"]) == (spent["new"], spent["reward_cost_fen"]), channel
        assert have["cac_fen"] == (spent["reward_cost_fen"] // spent["new"] if spent["new"] else None)
    assert totals["reward_cost_fen"] == sum(truth.cost.values())

    table = _get(api, tenant, "/v1/admin/growth/cohorts?weeks=12")
    cohorts = truth.expected_cohorts(today)
    assert len(cohorts) >= 5
    rows = {row["cohort"]: row for row in table["rows"] if row["size"]}
    assert set(rows) == set(cohorts)
    for week, want in cohorts.items():
        row = rows[week]
        assert row["size"] == want["size"], week
        begun = [cell for cell in row["weeks"] if cell is not None]
        assert [c["active"] for c in begun] == want["weeks"][: len(begun)], week
        assert all(c["pct"] == _pct(c["active"], want["size"]) for c in begun)
        assert row["retention_30d"]["retained"] == want["r30"], week
        assert row["retention_30d"]["pct"] == _pct(want["r30"], want["size"])
        assert (row["activated"], row["paid"]) == (want["activated"], want["paid"]), week
    assert rows[min(rows)]["weeks"][0]["active"] == rows[min(rows)]["size"]  # everyone is active in their week 0

    _points_and_tiers_equal_the_truth(api, tenant, simulation)
    _reviews_on_a_moved_clock_change_only_what_the_truth_predicts(app, tenant, simulation, monkeypatch)


def _points_and_tiers_equal_the_truth(api: Api, tenant: Tenant, simulation: Simulation) -> None:
    earned, credits = simulation.truth.earned(), simulation.truth.credits()
    status, defined = api.call("GET", "/v1/admin/loyalty/tasks", token=tenant.owner_token)
    assert status == 200, defined
    weekly_task = next(t["task_id"] for t in defined["tasks"] if t["period"] == "weekly")
    kinds = [kind for _, kind, _ in simulation.truth.events]
    tiers = {p.external_id: simulation.truth.tier_of(earned[p.external_id]) for p in simulation.people}
    # The programme was exercised: check-ins, both tasks, people in each tier and in none.
    assert kinds.count("checkin") > 100 and set(tiers.values()) == {None, *TIER_THRESHOLDS}, tiers
    for person in simulation.people:
        status, mine = api.call("GET", f"/v1/campaigns/{simulation.cid}/me/points", token=person.token)
        assert status == 200, mine
        assert (mine["balance"], mine["earned"]) == (earned[person.external_id],) * 2, person.external_id
        # A weekly task's reward is dated at the view that reached the target (to the minute: the request's own
        # clock runs on from the simulated moment).
        weekly = [e["created_at"][:16] for e in mine["entries"] if e["source"].startswith(f"task:{weekly_task}:W")]
        assert sorted(weekly) == sorted(
            iso(at)[:16] for at, _, what in credits.get(person.external_id, []) if what == "weekly_task"
        ), person.external_id
        status, tier = api.call("GET", f"/v1/campaigns/{simulation.cid}/me/tier", token=person.token)
        assert status == 200, tier
        assert (tier["tier"] or {}).get("id") == tiers[person.external_id], (person.external_id, tier)
        assert tier["value"] == earned[person.external_id] and tier["below_threshold"] is False, tier


def _reviews_on_a_moved_clock_change_only_what_the_truth_predicts(
    app: Any, tenant: Tenant, simulation: Simulation, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily review run on later Mondays, 03:00 local (a window of whole weeks then starts on a Monday night,
    when nobody acts): first with every credit in the window (nothing changes), then once early credits left it
    (people below their tier's threshold start a grace period), then after the grace (they go down to the tier
    their measure earns then; anyone who fell below only since then starts a grace period). The churn run and the
    stop-loss check run on the same clock without an error."""
    truth = simulation.truth
    uids = {p.external_id: _uid(p.code) for p in simulation.people}
    held = {who: truth.tier_of(points) for who, points in truth.earned().items()}
    moment = [datetime.now(UTC)]
    monkeypatch.setattr(handlers, "utcnow", lambda: moment[0])
    scheduler = Scheduler(app, clock=lambda: moment[0])
    today = datetime.now(ZONE).date()
    monday = today + timedelta(days=2 + (-(today.weekday() + 2)) % 7)
    below: dict[str, datetime] = {}
    for weeks in (0, 7, 10):
        at = datetime.combine(monday + timedelta(weeks=weeks), time(3), ZONE).astimezone(UTC)
        value = truth.earned(since=at - timedelta(days=TIER_WINDOW_DAYS), until=at)
        changes = 0
        for who, tier in list(held.items()):
            if tier is None or value[who] >= TIER_THRESHOLDS[tier]:
                below.pop(who, None)
            elif who in below and at >= below[who] + timedelta(days=TIER_GRACE_DAYS):
                held[who], changes = truth.tier_of(value[who]), changes + 1
                below.pop(who)
            else:
                below.setdefault(who, at)
        moment[0] = at
        counts = scheduler.invoke("review_tiers")
        assert counts["errors"] == 0 and counts["changed"] == changes, (weeks, counts, changes)
        for who, uid in uids.items():
            state = tier_store.state(tenant.tid, uid)
            since = iso(below[who]) if who in below else None
            assert (state.tier, state.below_since) == (held[who], since), (weeks, who, state)
    assert below and any(held[w] != truth.tier_of(p) for w, p in truth.earned().items())  # both were exercised
    for schedule in ("score_churn", "check_stop_loss"):
        assert scheduler.invoke(schedule)["errors"] == 0, schedule


def _uid(code: str) -> str:
    found = identity.by_code(code, consistent=True)
    assert found is not None
    return points.owner_of(found)


def test_operators_set_quarterly_targets_analysts_read_them_and_the_dashboard_shows_progress(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date()
    quarter = f"{today.year}Q{(today.month - 1) // 3 + 1}"
    analyst, operator = tenant.operator("analyst"), tenant.operator("operator")
    body = {"quarter": quarter, "new_users": 4, "retention_30d_pct": 42}
    assert api.call("PUT", "/v1/admin/growth/targets", body, token=analyst)[0] == 403
    status, saved = api.call("PUT", "/v1/admin/growth/targets", body, token=operator)
    assert status == 200 and saved["new_users"] == 4 and saved["monthly_active"] is None, saved
    for bad in ({"quarter": "2027Q5", "new_users": 1}, {"quarter": quarter}, {**body, "paid_conversion_pct": 101}):
        status, error = api.call("PUT", "/v1/admin/growth/targets", bad, token=operator)
        assert status == 422, error
    status, listed = api.call("GET", "/v1/admin/growth/targets", token=analyst)
    assert status == 200 and [t["quarter"] for t in listed["items"]] == [quarter]

    cid = live_campaign(api, tenant)
    deliver_every_batch_twice(pump)
    for _ in range(2):
        assert join(api, cid)[0] == 201
    pump.drain()
    growth = _get(api, tenant, "/v1/admin/growth")
    assert growth["to"] == today.isoformat() and len(growth["days"]) == 30
    assert growth["days"][-1]["new"] == 2 and growth["days"][-1]["active"] == 2
    progress = growth["quarter"]
    assert progress["quarter"] == quarter and progress["actual"]["new_users"] == 2
    assert progress["progress_pct"] == {"new_users": 50, "retention_30d_pct": None, "paid_conversion_pct": None,
                                        "monthly_active": None}  # fmt: skip
    assert api.call("GET", "/v1/admin/growth?from=2026-13-01", token=analyst)[0] == 422
    assert api.call("GET", "/v1/admin/growth/cohorts?weeks=0", token=analyst)[0] == 422
