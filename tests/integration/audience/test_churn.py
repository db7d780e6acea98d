"""Churn warning end to end on a moved clock: the daily run in batches across ticks, the `churn_risk` tag and
trigger once per crossing, calibration refused and accepted, and the operators' masked view."""

from __future__ import annotations

import math
import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from chalicelib.audience import churn, profiles
from chalicelib.audience.rules import churn as model
from chalicelib.audience.rules.profiles import SeenFact
from chalicelib.audience.store import churn as store
from chalicelib.core.clock import iso
from chalicelib.referral import identity
from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice

pytestmark = pytest.mark.integration


def _people(api: Api, tenant: Tenant, pump: StreamPump, n: int, **fields: Any) -> list[str]:
    """`n` people who joined now; their profile uids."""
    cid = live_campaign(api, tenant)
    codes = []
    for _ in range(n):
        status, body = join(api, cid, external_id=f"user-{uuid.uuid4().hex[:8]}", **fields)
        assert status == 201, body
        codes.append(body["invite_code"])
    pump.drain()
    uids = []
    for code in codes:
        person = identity.by_code(code, consistent=True)
        assert person is not None and person.person
        uids.append(person.person)
    return uids


def _overview(api: Api, token: str, **query: str) -> dict[str, Any]:
    q = "&".join(f"{k}={v}" for k, v in query.items())
    status, body = api.call("GET", f"/v1/admin/churn{'?' + q if q else ''}", token=token)
    assert status == 200, body
    return dict(body)


def _tags(api: Api, tenant: Tenant, uid: str) -> list[str]:
    status, body = api.call("GET", f"/v1/admin/participants/{uid}", token=tenant.owner_token)
    assert status == 200, body
    return list(body["tags"])


def test_the_run_scores_everyone_in_bounded_batches_across_ticks_once_a_day(
    api: Api, tenant: Tenant, pump: StreamPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    deliver_every_batch_twice(pump)
    uids = _people(api, tenant, pump, 5)
    assert tenant.tid in set(store.tenants())  # listed by the profiles' stream pass, batches delivered twice
    monkeypatch.setattr(churn, "BATCH", 2)
    later = datetime.now(UTC) + timedelta(days=3)

    ticks: list[dict[str, int]] = []
    while not ticks or ticks[-1]["scored"] or not store.get_run(tenant.tid).done:  # type: ignore[union-attr]
        ticks.append(churn.score_tenant(tenant.tid, later, budget=2))
        assert len(ticks) < 10

    assert [t["scored"] for t in ticks][:3] == [2, 2, 1] and sum(t["scored"] for t in ticks) == 5
    run = store.get_run(tenant.tid)
    assert run is not None and run.done and run.day == churn.local_day(tenant.tid, later)
    assert run.last_counts == {"low": 5}
    assert store.register(tenant.tid) is False and store.get_run(tenant.tid) == run  # listing again resets nothing
    # Every person scored once, one snapshot item per batch of two.
    assert {s.uid for s in store.highest(tenant.tid, 10)} == set(uids)
    batches = store.snapshots(tenant.tid, str(run.day))
    assert sorted(len(rows) for _, rows in batches) == [1, 2, 2]
    # The same day again scores nobody; the next day is a new run.
    assert churn.score_tenant(tenant.tid, later + timedelta(minutes=5))["scored"] == 0
    assert churn.score_tenant(tenant.tid, later + timedelta(days=1), budget=100)["scored"] == 5
    view = _overview(api, tenant.owner_token)
    assert view["distribution"]["total"] == 5 and view["distribution"]["complete"] is True
    assert view["weights"]["source"] == "default" and view["calibration"] is None


def test_the_schedule_runs_every_listed_tenant(app: Any, api: Api, tenant: Tenant, pump: StreamPump) -> None:
    _people(api, tenant, pump, 2)
    scheduler = Scheduler(app)
    for _ in range(30):  # today's run, as the deployed schedule does: other tenants of the table may come first
        assert scheduler.invoke("score_churn")["errors"] == 0
        run = store.get_run(tenant.tid)
        if run is not None and run.done:
            break
    assert run is not None and run.done and run.day == churn.local_day(tenant.tid, datetime.now(UTC))
    counts = churn.run(datetime.now(UTC) + timedelta(days=2), budget=100_000)
    assert counts["errors"] == 0 and counts["scored"] >= 2
    run = store.get_run(tenant.tid)
    assert run is not None and run.done and run.last_counts == {"low": 2}


def test_reaching_the_alert_level_tags_the_person_and_fires_the_trigger_once_per_crossing(
    api: Api, tenant: Tenant, pump: StreamPump, monkeypatch: pytest.MonkeyPatch
) -> None:
    rule = {
        "name": "Win back the slipping",
        "trigger": {"type": "churn_risk"},
        "conditions": "churn_level = high",  # holds at the crossing: the rule sees the new verdict
        "actions": [{"type": "send_message", "channel": "console", "template": "win_back"}],
    }
    status, created = api.call("POST", "/v1/admin/automations", rule, token=tenant.owner_token)
    assert status == 201, created
    [uid] = _people(api, tenant, pump, 1)
    now = datetime.now(UTC)

    def sent() -> int:
        status, body = api.call("GET", "/v1/admin/messages?channel=console", token=tenant.owner_token)
        assert status == 200, body
        return sum(1 for m in body["items"] if m["automation_id"] == created["id"] and m["uid"] == uid)

    churn.score_tenant(tenant.tid, now + timedelta(days=1))
    assert "churn_risk" not in _tags(api, tenant, uid) and sent() == 0
    # 40 days away: high. The first step is cut off after its writes, before its position is saved.
    save_run = store.save_run

    def cut_off(run: Any) -> bool:
        monkeypatch.setattr(store, "save_run", save_run)
        raise RuntimeError("the function timed out")

    monkeypatch.setattr(store, "save_run", cut_off)
    with pytest.raises(RuntimeError):
        churn.score_tenant(tenant.tid, now + timedelta(days=40))
    assert churn.score_tenant(tenant.tid, now + timedelta(days=40, minutes=5))["scored"] == 1  # done again
    for days in (41, 42, 50):
        churn.score_tenant(tenant.tid, now + timedelta(days=days))
    assert "churn_risk" in _tags(api, tenant, uid)
    assert sent() == 1
    score = store.get_score(tenant.tid, uid)
    assert score is not None and score.level == "high" and score.top[0]["feature"] == "recency"

    # They come back (a landing-page visit): the next run takes the tag off; slipping away again fires anew.
    back = now + timedelta(days=51)
    profiles.refresh(tenant.tid, uid, [SeenFact(iso(back))], back, create=False)
    churn.score_tenant(tenant.tid, back + timedelta(days=1))
    assert "churn_risk" not in _tags(api, tenant, uid) and sent() == 1
    churn.score_tenant(tenant.tid, back + timedelta(days=45))
    assert "churn_risk" in _tags(api, tenant, uid) and sent() == 2
    status, body = api.call("GET", "/v1/admin/participants?segment=churn_level%20%3D%20high", token=tenant.owner_token)
    assert status == 200 and [p["uid"] for p in body["items"]] == [uid], body


def test_settings_move_the_thresholds_and_the_alert_level(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    token = tenant.owner_token
    status, body = api.call("PUT", "/v1/admin/churn/settings", {"medium": 0.7, "high": 0.4}, token=token)
    assert status == 422, body
    status, body = api.call("PUT", "/v1/admin/churn/settings", {"medium": 0.1, "high": 0.9, "alert_level": "medium"},
                            token=token)  # fmt: skip
    assert status == 200 and body["settings"]["alert_level"] == "medium", body
    assert api.call("PUT", "/v1/admin/churn/settings", {"high": 0.9}, token=tenant.operator("analyst"))[0] == 403
    [uid] = _people(api, tenant, pump, 1)
    churn.score_tenant(tenant.tid, datetime.now(UTC) + timedelta(days=2))
    assert store.get_score(tenant.tid, uid).level == "medium"  # type: ignore[union-attr]
    assert "churn_risk" in _tags(api, tenant, uid)
    assert _overview(api, token)["settings"] == {"medium": 0.1, "high": 0.9, "alert_level": "medium"}


def test_calibration_is_refused_without_history_and_kept_with_a_seeded_one(api: Api, tenant: Tenant) -> None:
    token = tenant.owner_token
    status, body = api.call("POST", "/v1/admin/churn/calibrate", token=token)
    assert status == 200, body
    assert body["calibration"]["calibrated"] is False and "examples" in body["calibration"]["reason"]
    assert body["weights"]["source"] == "default"

    # 40 days of a tenant whose people stay when they help friends (the defaults barely weigh helps).
    today = date.fromisoformat(churn.local_day(tenant.tid, datetime.now(UTC)))
    rng = random.Random(3)
    for back in range(31, 35):
        scored = today - timedelta(days=back)
        at = f"{scored.isoformat()}T04:00:00Z"
        early: dict[str, list[Any]] = {}
        late: dict[str, list[Any]] = {}
        for i in range(150):
            uid = f"u_seed{back}_{i}"
            recency, helps = rng.uniform(0, 40), float(rng.randint(0, 12))
            x = model.bounded("recency", recency), model.bounded("helps", helps)
            churned = rng.random() < 1 / (1 + math.exp(-(0.5 + 1.5 * x[0] - 5.0 * x[1])))
            seen = iso(datetime.fromisoformat(at.replace("Z", "+00:00")) - timedelta(days=recency))
            early[uid] = [round(recency, 3), 1.0, 2.0, 0.0, 0.0, helps, 0.0, seen]
            came = iso(datetime.fromisoformat(at.replace("Z", "+00:00")) + timedelta(days=rng.uniform(1, 29)))
            late[uid] = [0.0, 0.0, 0.0, 0.0, 0.0, helps, 0.0, seen if churned else came]
        store.put_snapshot(tenant.tid, scored.isoformat(), 0, at, early, 0)
        store.put_snapshot(tenant.tid, (scored + timedelta(days=30)).isoformat(), 0, at, late, 0)

    status, body = api.call("POST", "/v1/admin/churn/calibrate", token=token)
    assert status == 200, body
    record = body["calibration"]
    assert record["calibrated"] is True, record
    assert record["examples"] == 600 and record["days"] == 4 and record["n_holdout"] > 100
    assert record["auc_calibrated"] > record["auc_default"] and record["auc_calibrated"] >= 0.6
    assert body["weights"]["source"] == "calibrated" and body["weights"]["coef"]["helps"] < -1.0
    view = _overview(api, token)
    assert view["weights"] == body["weights"] and view["calibration"] == record
    assert api.call("POST", "/v1/admin/churn/calibrate", token=tenant.operator("analyst"))[0] == 403


def test_the_highest_risks_are_masked_for_roles_without_unmask(api: Api, tenant: Tenant, pump: StreamPump) -> None:
    [uid] = _people(api, tenant, pump, 1, nickname="张三丰", phone="13812345678")
    churn.score_tenant(tenant.tid, datetime.now(UTC) + timedelta(days=60))
    analyst = tenant.operator("analyst")
    [top] = _overview(api, analyst)["top"]
    assert top["uid"] == uid and top["level"] == "high" and top["nickname"] == "张**"
    assert top["phone"] != "13812345678" and "1234" not in str(top)
    assert top["explanation"][0]["feature"] == "recency" and top["explanation"][0]["contribution"] > 0
    assert api.call("GET", "/v1/admin/churn", token=tenant.operator("viewer"))[0] == 403
