"""Daily check-ins: once per person and local day under concurrency, streaks, make-up cards within the monthly
limit, rewards given once even when stream batches arrive twice."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.accounts import tenants
from chalicelib.core.errors import FissionError
from chalicelib.loyalty import checkins
from chalicelib.loyalty.rules.checkins import MakeupRequest
from chalicelib.loyalty.rules.points import Kind
from chalicelib.loyalty.store import ledger
from chalicelib.referral import identity, rewards
from local.pump import StreamPump
from tests.conftest import Api, Clock, Tenant, join, live_campaign
from tests.integration.conftest import deliver_every_batch_twice

SHANGHAI = ZoneInfo("Asia/Shanghai")
PROGRAMME = {
    "enabled": True,
    "cycle_days": 7,
    "ladder": [
        {"day": 1, "points": 10},
        {"day": 2, "points": 20},
        {"day": 3, "points": 30, "coupon": {"name": "5 yuan coupon", "value_fen": 500}},
    ],
    "makeup_cards_per_month": 2,
    "makeup_window_days": 31,
}


def _programme(api: Api, tenant: Tenant, **changes: Any) -> dict[str, Any]:
    status, body = api.call("PUT", "/v1/admin/loyalty/checkins", {**PROGRAMME, **changes}, token=tenant.owner_token)
    assert status == 200, body
    return dict(body)


def _member(api: Api, tenant: Tenant) -> tuple[str, dict[str, Any]]:
    cid = live_campaign(api, tenant, "invite")
    status, body = join(api, cid, external_id=f"user-{uuid.uuid4().hex[:8]}")
    assert status == 201, body
    return cid, dict(body)


def _check_in(api: Api, cid: str, member: dict[str, Any]) -> tuple[int, Any]:
    return api.call("POST", f"/v1/campaigns/{cid}/me/checkins", token=member["token"])


def _make_up(api: Api, cid: str, member: dict[str, Any], day: date) -> tuple[int, Any]:
    return api.call("POST", f"/v1/campaigns/{cid}/me/checkins/makeup", {"date": day.isoformat()}, token=member["token"])


def _calendar(api: Api, cid: str, member: dict[str, Any], month: str | None = None) -> dict[str, Any]:
    query = f"?month={month}" if month else ""
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me/checkins{query}", token=member["token"])
    assert status == 200, body
    return dict(body)


def _owner(member: dict[str, Any]) -> str:
    person = identity.by_code(member["invite_code"], consistent=True)
    assert person is not None
    return person.person or f"c_{person.code}"


def _set(clock: Clock, moment: datetime) -> None:
    clock.offset = moment - datetime.now(UTC)


def _month_day(n: int) -> datetime:
    """Noon in Shanghai on day `n` of the current local month: a week of days that never crosses a month."""
    today = datetime.now(SHANGHAI).date()
    return datetime.combine(today.replace(day=n), time(12), SHANGHAI).astimezone(UTC)


def test_operators_set_the_programme_and_impossible_ladders_are_refused(api: Api, tenant: Tenant) -> None:
    status, body = api.call("GET", "/v1/admin/loyalty/checkins", token=tenant.owner_token)
    assert status == 200 and body["configured"] is False and body["settings"]["enabled"] is False, body
    cid, member = _member(api, tenant)
    status, body = _check_in(api, cid, member)
    assert status == 409 and body["error"]["code"] == "CHECKINS_DISABLED", body
    saved = _programme(api, tenant)
    assert saved["configured"] and saved["settings"]["ladder"][2]["coupon"]["value_fen"] == 500
    bad = {**PROGRAMME, "cycle_days": 2}
    status, body = api.call("PUT", "/v1/admin/loyalty/checkins", bad, token=tenant.owner_token)
    assert status == 422 and "beyond the cycle" in str(body), body
    status, body = api.call("PUT", "/v1/admin/loyalty/checkins", {**PROGRAMME, "ladder": [{"day": 1}]},
                            token=tenant.owner_token)  # fmt: skip
    assert status == 422 and "gives nothing" in str(body), body
    assert api.call("GET", "/v1/admin/loyalty/checkins", token=tenant.operator("analyst"))[0] == 403
    status, body = api.call("GET", "/v1/admin/loyalty/checkins", token=tenant.operator("operator"))
    assert status == 200 and body["settings"] == saved["settings"]


def test_a_repeated_check_in_answers_the_same_day_and_credits_its_points_once(api: Api, tenant: Tenant) -> None:
    _programme(api, tenant)
    cid, member = _member(api, tenant)
    status, first = _check_in(api, cid, member)
    assert status == 201 and first["streak_day"] == 1 and first["points"] == 10 and not first["made_up"], first
    status, again = _check_in(api, cid, member)
    assert status == 200 and again == first
    status, mine = api.call("GET", f"/v1/campaigns/{cid}/me/points", token=member["token"])
    assert mine["balance"] == 10 and [e["source"] for e in mine["entries"]] == [f"check_in:{first['date']}"]
    assert mine["entries"][0]["kind"] == "check_in"
    calendar = _calendar(api, cid, member)
    assert calendar["checked_in_today"] and calendar["current_streak"] == 1 and calendar["longest_streak"] == 1
    assert calendar["today"] == first["date"] and [d["date"] for d in calendar["days"]] == [first["date"]]
    assert calendar["next_reward"]["streak_day"] == 2 and calendar["next_reward"]["points"] == 20
    assert calendar["makeup_cards_left"] == 2 and calendar["timezone"] == "Asia/Shanghai"


def test_twenty_parallel_check_ins_on_one_day_make_one_check_in_and_one_reward(api: Api, tenant: Tenant) -> None:
    _programme(api, tenant)
    cid, member = _member(api, tenant)
    now = datetime.now(UTC)

    def one(_: int) -> tuple[dict[str, Any], bool] | str:
        try:
            return checkins.check_in(cid, f"Bearer {member['token']}", now)
        except FissionError as exc:
            return str(exc.code)

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(one, range(20)))
    answered = [o for o in outcomes if isinstance(o, tuple)]
    assert len(answered) == 20, outcomes
    assert sum(created for _, created in answered) == 1
    assert len({str(view) for view, _ in answered}) == 1
    entries = ledger.ledger(tenant.tid, _owner(member)).entries
    assert [(e.kind, e.points) for e in entries] == [(Kind.CHECK_IN, 10)]


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_the_day_turns_at_local_midnight(
    api: Api, tenant: Tenant, clock: Clock, monkeypatch: pytest.MonkeyPatch, zone: str
) -> None:
    monkeypatch.setattr(tenants, "timezone", lambda tid: zone)
    _programme(api, tenant)
    cid, member = _member(api, tenant)
    local = datetime.now(ZoneInfo(zone))
    midnight = datetime.combine(local.date() + timedelta(days=1), time(0), ZoneInfo(zone)).astimezone(UTC)
    _set(clock, midnight - timedelta(minutes=1))  # 23:59 local
    status, late = _check_in(api, cid, member)
    assert status == 201 and late["date"] == local.date().isoformat(), late
    assert _check_in(api, cid, member)[0] == 200  # still the same local day
    _set(clock, midnight + timedelta(minutes=1))  # 00:01 local, two minutes later
    status, early = _check_in(api, cid, member)
    assert status == 201 and early["date"] == (local.date() + timedelta(days=1)).isoformat(), early
    assert early["streak_day"] == 2 and early["points"] == 20
    calendar = _calendar(api, cid, member)
    assert calendar["timezone"] == zone and calendar["current_streak"] == 2


def test_a_make_up_card_reconnects_the_streak_without_a_reward_and_the_month_allows_two(
    api: Api, tenant: Tenant, clock: Clock
) -> None:
    _programme(api, tenant)
    cid, member = _member(api, tenant)
    for n in (1, 3, 5, 7):  # days 2, 4 and 6 missed
        _set(clock, _month_day(n))
        assert _check_in(api, cid, member)[0] == 201
    day = _month_day(7).astimezone(SHANGHAI).date()
    assert _calendar(api, cid, member)["current_streak"] == 1
    status, made = _make_up(api, cid, member, day.replace(day=6))
    assert status == 201 and made["made_up"] and made["points"] == 0 and made["makeup_cards_left"] == 1, made
    assert _calendar(api, cid, member)["current_streak"] == 3  # 5, 6 (made up), 7
    status, again = _make_up(api, cid, member, day.replace(day=6))
    assert status == 200 and again["makeup_cards_left"] == 1  # covered already: no card used
    status, covered = _make_up(api, cid, member, day.replace(day=5))
    assert status == 200 and not covered["made_up"]  # a day checked in is not made up
    assert _make_up(api, cid, member, day.replace(day=4))[0] == 201
    status, body = _make_up(api, cid, member, day.replace(day=2))
    assert status == 409 and body["error"]["code"] == "MAKEUP_LIMIT", body
    status, body = _make_up(api, cid, member, day + timedelta(days=1))
    assert status == 422 and body["error"]["details"]["reason"] == "not_in_the_past", body
    calendar = _calendar(api, cid, member)
    assert calendar["current_streak"] == 5 and calendar["longest_streak"] == 5  # 3..7, with 4 and 6 made up
    assert calendar["makeup_cards_left"] == 0
    assert [d["date"][-2:] for d in calendar["days"] if d["made_up"]] == ["04", "06"]
    mine = api.call("GET", f"/v1/campaigns/{cid}/me/points", token=member["token"])[1]
    assert mine["balance"] == 10 + 10 + 10 + 10  # each check-in was day 1 of a streak when made; make-ups give none
    other_month = (day.replace(day=1) - timedelta(days=1)).isoformat()[:7]
    assert _calendar(api, cid, member, other_month)["days"] == []
    status, body = api.call("GET", f"/v1/campaigns/{cid}/me/checkins?month=2026-13", token=member["token"])
    assert status == 422, body


def test_a_make_up_before_the_first_check_in_is_refused(api: Api, tenant: Tenant, clock: Clock) -> None:
    _programme(api, tenant)
    cid, member = _member(api, tenant)
    _set(clock, _month_day(5))
    assert _check_in(api, cid, member)[0] == 201
    day = _month_day(5).astimezone(SHANGHAI).date()
    status, body = _make_up(api, cid, member, day.replace(day=3))
    assert status == 422 and body["error"]["code"] == "MAKEUP_DATE_NOT_ALLOWED", body
    assert body["error"]["details"]["reason"] == "before_first_check_in"


def test_parallel_make_ups_never_pass_the_monthly_limit(api: Api, tenant: Tenant) -> None:
    _programme(api, tenant)
    cid, member = _member(api, tenant)
    auth = f"Bearer {member['token']}"
    checkins.check_in(cid, auth, _month_day(1))
    now = _month_day(10)
    first = _month_day(1).astimezone(SHANGHAI).date()
    days = [first + timedelta(days=i) for i in range(1, 9)]  # the 2nd to the 9th

    def one(i: int) -> bool | str:
        try:
            return checkins.make_up(cid, auth, MakeupRequest(date=days[i % len(days)]), now)[1]
        except FissionError as exc:
            return str(exc.code)

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(one, range(20)))
    assert outcomes.count(True) == 2, outcomes
    assert set(outcomes) <= {True, False, "MAKEUP_LIMIT", "CHECKIN_BUSY"}, outcomes
    calendar = checkins.calendar(cid, auth, None, now)
    assert sum(d["made_up"] for d in calendar["days"]) == 2 and calendar["makeup_cards_left"] == 0


def test_a_coupon_day_issues_its_coupon_once_even_when_batches_arrive_twice(
    api: Api, tenant: Tenant, pump: StreamPump
) -> None:
    coupon = {"name": "5 yuan coupon", "value_fen": 500}
    _programme(api, tenant, ladder=[{"day": 1, "points": 10, "coupon": coupon}])
    cid, member = _member(api, tenant)
    delivered = deliver_every_batch_twice(pump)
    status, day = _check_in(api, cid, member)
    assert status == 201 and day["coupon"] == coupon, day
    assert _check_in(api, cid, member)[0] == 200
    pump.drain()
    pump.drain()
    assert delivered
    found = [r for r in rewards.for_participant(member["invite_code"]) if r.rule.startswith("checkin:")]
    assert [(r.rule, r.type, r.name, r.value_fen, r.status) for r in found] == [
        (checkins.coupon_rule(date.fromisoformat(day["date"])), "coupon", "5 yuan coupon", 500, "issued")
    ]
    assert api.call("GET", f"/v1/campaigns/{cid}/me/points", token=member["token"])[1]["balance"] == 10
