"""Budget stop-loss: rewards flow until a line is crossed, then the next minute's check pauses the campaign (or holds
the channel's rewards), alerts the owners and audits it; only an owner resumes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.analytics import stoploss_check
from chalicelib.campaigns import live
from chalicelib.referral import rewards
from local.pump import StreamPump
from local.scheduler import Scheduler
from tests.conftest import Api, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice

# The default invite campaign: the inviter's first invite earns 500 fen, the invitee 300 fen.
PAIR_COST = 800


@pytest.fixture
def moment(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """The schedules' clock, moved by the tests."""
    from chalicelib.entrypoints import events as handlers

    now = [datetime.now(UTC)]
    monkeypatch.setattr(handlers, "utcnow", lambda: now[0])
    return now


@pytest.fixture
def tick(app: Any, moment: list[datetime]) -> Callable[[], None]:
    """One run of the minute's check (it judges every campaign with lines in the table, other tests' too)."""
    scheduler = Scheduler(app, clock=lambda: moment[0])

    def run() -> None:
        counts = scheduler.invoke("check_stop_loss")
        assert counts["errors"] == 0 and counts["campaigns"] >= 1

    return run


def _pair(api: Api, cid: str, pump: StreamPump, channel: str | None = None) -> tuple[str, str]:
    """An inviter and one invitee (their codes): both rewarded once the stream has run."""
    extra = {"channel": channel} if channel else {}
    status, inviter = join(api, cid, external_id=f"u-{uuid.uuid4().hex[:8]}", **extra)
    assert status == 201, inviter
    status, body = join(api, cid, external_id=f"u-{uuid.uuid4().hex[:8]}", ref=inviter["invite_code"], **extra)
    assert status == 201, body
    pump.drain()
    return str(inviter["invite_code"]), str(body["invite_code"])


def _lines(api: Api, tenant: Tenant, cid: str, lines: list[dict[str, Any]], token: str | None = None) -> Any:
    status, body = api.call("PUT", f"/v1/admin/campaigns/{cid}/stop-loss", {"lines": lines},
                            token=token or tenant.owner_token)  # fmt: skip
    assert status == 200, body
    return body


def _trip(api: Api, tenant: Tenant, cid: str, index: int = 0) -> Any:
    status, body = api.call("GET", f"/v1/admin/campaigns/{cid}/stop-loss", token=tenant.owner_token)
    assert status == 200, body
    return body["lines"][index]["trip"]


def _status(api: Api, tenant: Tenant, cid: str) -> str:
    return str(api.call("GET", f"/v1/admin/campaigns/{cid}", token=tenant.owner_token)[1]["status"])


def _audit(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    status, body = api.call("GET", "/v1/admin/audit?limit=100", token=tenant.owner_token)
    assert status == 200, body
    return list(body["items"])


def _alerts(api: Api, tenant: Tenant) -> list[dict[str, Any]]:
    status, body = api.call("GET", "/v1/admin/messages?limit=100", token=tenant.owner_token)
    assert status == 200, body
    return [m for m in body["items"] if str(m["uid"]).startswith("op_")]


def test_the_next_check_after_spend_crosses_its_line_pauses_the_campaign_alerts_and_audits_once(
    api: Api, tenant: Tenant, pump: StreamPump, tick: Callable[[], None]
) -> None:
    cid = live_campaign(api, tenant)
    deliver_every_batch_twice(pump)
    operator = tenant.operator("operator")
    _lines(api, tenant, cid, [{"spend_fen": PAIR_COST + 100}], token=operator)  # campaign:write may set lines
    _pair(api, cid, pump)
    tick()
    assert _status(api, tenant, cid) == "active" and _trip(api, tenant, cid) is None  # 800 fen: under the line

    _pair(api, cid, pump)  # 1,600 fen: crossed
    tick()  # one check after crossing, the campaign is paused
    assert _status(api, tenant, cid) == "paused"
    view = api.call("GET", f"/v1/admin/campaigns/{cid}/stop-loss", token=tenant.owner_token)[1]
    trip = view["lines"][0]["trip"]
    assert (trip["kind"], trip["value_fen"], trip["limit_fen"], trip["applied"]) == ("spend", 1600, 900, True)
    assert view["stop_loss_paused_at"] is not None

    audit = _audit(api, tenant)
    pauses = [e for e in audit if e["action"] == "campaign.pause" and e["target"] == cid]
    assert len(pauses) == 1 and pauses[0]["actor"] == "system"
    assert pauses[0]["details"]["stop_loss"]["value_fen"] == 1600
    assert [e["details"]["line"] for e in audit if e["action"] == "stop_loss.trip"] == ["*"]
    [alert] = _alerts(api, tenant)
    assert alert["channel"] == "console" and alert["uid"] == stoploss_check.owner_uid(tenant.owner_email)
    assert "1600" in alert["text"] and "900" in alert["text"]

    tick()  # the same crossing: no second trip, alert or audit entry
    assert _trip(api, tenant, cid) == trip
    assert len(_audit(api, tenant)) == len(audit)
    assert len(_alerts(api, tenant)) == 1


def test_only_an_owner_resumes_a_campaign_the_stop_loss_paused(
    api: Api, tenant: Tenant, pump: StreamPump, tick: Callable[[], None]
) -> None:
    cid = live_campaign(api, tenant)
    _lines(api, tenant, cid, [{"spend_fen": 100}])
    _pair(api, cid, pump)
    tick()
    assert _status(api, tenant, cid) == "paused"

    operator = tenant.operator("operator")
    status, body = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=operator)
    assert status == 403 and body["error"]["code"] == "STOP_LOSS_OWNER_REQUIRED", body
    assert _status(api, tenant, cid) == "paused"

    status, body = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)
    assert status == 200 and body["status"] == "active", body
    resumed = [
        e for e in _audit(api, tenant) if e["action"] == "campaign.publish" and "stop_loss_paused_at" in e["details"]
    ]
    assert len(resumed) == 1 and resumed[0]["actor"] == tenant.owner_email
    tick()  # the owner's word stands for this crossing
    assert _status(api, tenant, cid) == "active"

    # An operator's own pause and resume afterwards needs no owner.
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=operator)[0] == 200
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=operator)[0] == 200


def test_a_line_crossed_while_an_operator_had_paused_the_campaign_still_needs_an_owner_to_resume(
    api: Api, tenant: Tenant, pump: StreamPump, tick: Callable[[], None]
) -> None:
    cid = live_campaign(api, tenant)
    _pair(api, cid, pump)
    operator = tenant.operator("operator")
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/pause", token=operator)[0] == 200
    _lines(api, tenant, cid, [{"spend_fen": 100}])
    tick()
    assert [e["actor"] for e in _audit(api, tenant) if e["action"] == "campaign.stop_loss_mark"] == ["system"]
    status, body = api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=operator)
    assert status == 403 and body["error"]["code"] == "STOP_LOSS_OWNER_REQUIRED", body
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200


def test_a_rolling_window_rearms_when_it_moves_past_the_spend_and_trips_again_on_a_new_crossing(
    api: Api, tenant: Tenant, pump: StreamPump, tick: Callable[[], None], moment: list[datetime]
) -> None:
    cid = live_campaign(api, tenant)
    _lines(api, tenant, cid, [{"spend_fen": 100, "window_days": 1}])
    _pair(api, cid, pump)
    tick()
    assert _trip(api, tenant, cid)["value_fen"] == PAIR_COST
    assert api.call("POST", f"/v1/admin/campaigns/{cid}/publish", token=tenant.owner_token)[0] == 200

    moment[0] += timedelta(days=2)  # the spend left the one-day window
    tick()
    line = api.call("GET", f"/v1/admin/campaigns/{cid}/stop-loss", token=tenant.owner_token)[1]["lines"][0]
    assert line["trip"] is None and line["last_trip"]["value_fen"] == PAIR_COST
    assert _status(api, tenant, cid) == "active"


def test_a_cac_ceiling_waits_for_its_minimum_sample(
    api: Api, tenant: Tenant, pump: StreamPump, tick: Callable[[], None]
) -> None:
    cid = live_campaign(api, tenant)
    _lines(api, tenant, cid, [{"cac_fen": 100, "min_sample": 2}])
    _pair(api, cid, pump)  # 800 fen for one new qualified participant: far above, but one is no sample
    tick()
    assert _trip(api, tenant, cid) is None and _status(api, tenant, cid) == "active"
    _pair(api, cid, pump)  # 1,600 fen for two: 800 each
    tick()
    trip = _trip(api, tenant, cid)
    assert (trip["kind"], trip["value_fen"], trip["qualified"]) == ("cac", 800, 2)
    assert _status(api, tenant, cid) == "paused"


def test_lines_are_validated_and_need_campaign_write(api: Api, tenant: Tenant) -> None:
    cid = live_campaign(api, tenant)
    path = f"/v1/admin/campaigns/{cid}/stop-loss"
    bad_lines: list[list[dict[str, Any]]] = [
        [{}], [{"spend_fen": 0}], [{"spend_fen": 1}, {"cac_fen": 1}], [{"spend_fen": 1, "window_days": 0}],
        [{"channel": "Bad Channel", "spend_fen": 1}], [{"spend_fen": 1, "extra": 1}],
    ]  # fmt: skip
    for bad in bad_lines:
        status, body = api.call("PUT", path, {"lines": bad}, token=tenant.owner_token)
        assert status == 422, (bad, body)
    analyst = tenant.operator("analyst")
    assert api.call("PUT", path, {"lines": [{"spend_fen": 1}]}, token=analyst)[0] == 403
    assert api.call("GET", path, token=analyst)[0] == 200
    other = api.call("GET", "/v1/admin/campaigns/c-missing/stop-loss", token=tenant.owner_token)
    assert other[0] == 404
    saved = _lines(api, tenant, cid, [{"spend_fen": 5000}, {"channel": "douyin", "cac_fen": 800, "window_days": 7}])
    assert [line["key"] for line in saved["lines"]] == ["*", "douyin"]
    assert _lines(api, tenant, cid, [])["lines"] == []


def _rewards(*codes: str) -> list[tuple[str, str | None, str | None]]:
    """(status, reason code, channel) of the participants' rewards."""
    return [(r.status, r.reason_code, r.channel) for code in codes for r in rewards.for_participant(code)]


def test_a_channel_line_holds_only_that_channels_rewards_until_an_owner_releases_them(
    app: Any, api: Api, tenant: Tenant, pump: StreamPump, tick: Callable[[], None], moment: list[datetime]
) -> None:
    cid = live_campaign(api, tenant)
    _lines(api, tenant, cid, [{"channel": "douyin", "spend_fen": PAIR_COST - 1}])
    _pair(api, cid, pump, "douyin")  # 800 fen through douyin: crossed
    _pair(api, cid, pump, "sms")
    tick()
    view = api.call("GET", f"/v1/admin/campaigns/{cid}/stop-loss", token=tenant.owner_token)[1]
    assert view["held_channels"] == ["douyin"] and view["stop_loss_paused_at"] is None
    assert view["lines"][0]["trip"]["value_fen"] == PAIR_COST  # the sms spend is not douyin's
    assert _status(api, tenant, cid) == "active"
    holds = [e for e in _audit(api, tenant) if e["action"] == "campaign.channel_hold"]
    assert len(holds) == 1 and holds[0]["actor"] == "system" and holds[0]["details"]["channel"] == "douyin"
    assert len(_alerts(api, tenant)) == 1

    live.forget()  # the stream reads campaigns through a cache of a few seconds
    held = _pair(api, cid, pump, "douyin")
    flowing = _pair(api, cid, pump, "sms")
    assert _rewards(*held) == [("pending_release", "STOP_LOSS_HELD", "douyin")] * 2  # held, not lost
    assert _rewards(*flowing) == [("issued", None, "sms")] * 2

    scheduler = Scheduler(app, clock=lambda: moment[0])
    moment[0] += timedelta(minutes=10)
    scheduler.invoke("release_rewards")
    assert _rewards(*held) == [("pending_release", "STOP_LOSS_HELD", "douyin")] * 2  # still held: kept

    path = f"/v1/admin/campaigns/{cid}/stop-loss/channels/douyin/release"
    status, body = api.call("POST", path, token=tenant.operator("operator"))
    assert status == 403 and body["error"]["code"] == "STOP_LOSS_OWNER_REQUIRED", body
    status, body = api.call("POST", path, token=tenant.owner_token)
    assert status == 200 and body["held_channels"] == [], body
    assert [e["actor"] for e in _audit(api, tenant) if e["action"] == "campaign.channel_release"] == [
        tenant.owner_email
    ]
    moment[0] += timedelta(minutes=10)
    scheduler.invoke("release_rewards")
    assert _rewards(*held) == [("issued", None, "douyin")] * 2
