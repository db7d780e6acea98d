"""Growth rules: what an activity counts once for its person, the cohort table's arithmetic, quarters and targets."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.analytics.rules import growth as rules
from chalicelib.analytics.rules.growth import Activity, GrowthTarget, Start
from chalicelib.table.images import BeaconImage, CheckinImage, OrderImage, ParticipantImage, RewardImage

ZONE = ZoneInfo("Asia/Shanghai")
START = Start("2026-11-02T02:00:00Z", date(2026, 11, 2), "douyin")  # Monday 10:00 local, ISO week 2026-W45


def _names(act: Activity, start: Start | None = START) -> set[str]:
    return {c.name for c in rules.claims(start, act, ZONE)}


def _participant(**fields: object) -> ParticipantImage:
    base: dict[str, object] = {"cid": "c1", "tid": "t1", "code": "abc", "joined_at": "2026-11-02T02:00:00Z",
                               "person": "u1", "channel": "douyin"}  # fmt: skip
    return ParticipantImage(**{**base, **fields})  # type: ignore[arg-type]


def test_a_join_is_the_persons_activity_and_the_inviters_invite() -> None:
    found = rules.activities("participant", "INSERT", None, _participant(inviter="inv"), None)
    assert found == [
        Activity("join", "2026-11-02T02:00:00Z", "t1", "u1", channel="douyin"),
        Activity("invite", "2026-11-02T02:00:00Z", code="inv"),
    ]


def test_a_held_join_counts_only_when_approved_and_a_removal_never() -> None:
    held = _participant(review="held")
    assert rules.activities("participant", "INSERT", None, held, None) == []
    approved = rules.activities("participant", "MODIFY", held, _participant(review="approved"), None)
    assert [a.kind for a in approved] == ["join"]
    assert rules.activities("participant", "MODIFY", _participant(), _participant(nickname="x"), None) == []
    assert rules.activities("participant", "REMOVE", _participant(), None, None) == []


def test_views_shares_and_paid_orders_of_known_participants_are_activities() -> None:
    view = BeaconImage(cid="c1", type="view", at="2026-11-03T01:00:00Z", code="abc")
    assert rules.activities("beacon", "INSERT", None, view, None) == [Activity("view", view.at, code="abc")]
    anonymous = BeaconImage(cid="c1", type="share", at="2026-11-03T01:00:00Z")
    assert rules.activities("beacon", "INSERT", None, anonymous, None) == []
    paid = OrderImage(cid="c1", tid="t1", oid="o1", status="paid", amount=100, paid_at="2026-11-04T01:00:00Z",
                      buyer="abc")  # fmt: skip
    assert [a.kind for a in rules.activities("order", "INSERT", None, paid, None)] == ["order"]


def test_a_check_in_or_a_make_up_is_activity_of_its_person_when_it_was_sent() -> None:
    made_up = CheckinImage(cid="c1", tid="t1", uid="u9", code="abc", date="2026-11-04", made_up=True, streak=0,
                           points=0, created_at="2026-11-05T01:00:00Z")  # fmt: skip
    assert rules.activities("checkin", "INSERT", None, made_up, None) == [
        Activity("checkin", "2026-11-05T01:00:00Z", "t1", "u9")
    ]
    assert rules.activities("checkin", "MODIFY", made_up, made_up, None) == []


def test_every_activity_counts_the_day_and_month_and_the_cohort_week_it_falls_in() -> None:
    later = Activity("view", "2026-11-17T01:00:00Z")  # local 2026-11-17: week 2 after the cohort's Monday
    assert _names(later) == {"D|2026-11-17", "MO|2026-11", "W|2026-W47"}
    [_, _, week] = rules.claims(START, later, ZONE)
    assert week.adds == (("cohort", "2026-W45", "w2", 1),)
    assert _names(later, None) == {"D|2026-11-17", "MO|2026-11"}  # no start known yet: no cohort


def test_local_days_follow_the_tenants_time_zone() -> None:
    # 16:30 UTC on the 16th is 00:30 on the 17th in Shanghai.
    assert "D|2026-11-17" in _names(Activity("view", "2026-11-16T16:30:00Z"))


def test_thirty_day_retention_is_activity_on_days_30_to_36_after_joining() -> None:
    assert "R30" not in _names(Activity("view", "2026-12-01T01:00:00Z"))  # day 29
    assert "R30" in _names(Activity("view", "2026-12-02T01:00:00Z"))  # day 30
    assert "R30" in _names(Activity("view", "2026-12-08T01:00:00Z"))  # day 36
    assert "R30" not in _names(Activity("view", "2026-12-09T01:00:00Z"))  # day 37


def test_activation_is_a_share_or_an_invite_within_seven_days_of_joining() -> None:
    assert "ACT" in _names(Activity("share", "2026-11-09T02:00:00Z"))  # exactly 7 days
    assert "ACT" not in _names(Activity("share", "2026-11-09T02:00:01Z"))
    assert "ACT" in _names(Activity("invite", "2026-11-03T02:00:00Z"))
    assert "ACT" not in _names(Activity("view", "2026-11-03T02:00:00Z"))
    [act] = [c for c in rules.claims(START, Activity("invite", "2026-11-03T02:00:00Z"), ZONE) if c.name == "ACT"]
    assert act.adds == (("day", "2026-11-02", "activated", 1), ("cohort", "2026-W45", "activated", 1))


def test_a_paid_order_converts_the_person_on_their_join_day() -> None:
    [paid] = [c for c in rules.claims(START, Activity("order", "2026-11-20T02:00:00Z"), ZONE) if c.name == "PAID"]
    assert paid.adds == (("day", "2026-11-02", "paid", 1), ("cohort", "2026-W45", "paid", 1))


def test_a_first_join_counts_new_people_by_channel_and_the_cohorts_size() -> None:
    claim = rules.start_claim(START)
    assert claim.name == "START" and claim.fields == {"at": START.at, "day": "2026-11-02", "channel": "douyin"}
    assert claim.adds == (("day", "2026-11-02", "new", 1), ("day", "2026-11-02", "new|douyin", 1),
                          ("cohort", "2026-W45", "size", 1))  # fmt: skip


def test_a_rewards_cost_counts_when_owed_and_comes_back_when_revoked() -> None:
    base = {"cid": "c1", "tid": "t1", "code": "abc", "rule": "m1", "name": "coupon",
            "created_at": "2026-11-03T01:00:00Z", "value_fen": 500}  # fmt: skip
    issued = RewardImage(status="issued", **base)  # type: ignore[arg-type]
    owed = rules.cost("INSERT", None, issued)
    assert owed is not None and (owed.key, owed.fen) == ("RW|c1|abc|m1", 500)
    revoked = RewardImage(status="revoked", revoked_at="2026-11-05T01:00:00Z", **base)  # type: ignore[arg-type]
    back = rules.cost("MODIFY", issued, revoked)
    assert back is not None and (back.key, back.fen) == ("RV|c1|abc|m1", -500)
    assert rules.cost("MODIFY", issued, issued) is None
    claim = rules.cost_claim(owed, START, ZONE)
    assert claim.adds == (("day", "2026-11-03", "cost|douyin", 500),)


def test_percentages_are_whole_and_rounded_half_up() -> None:
    assert (rules.pct(1, 3), rules.pct(2, 3), rules.pct(1, 8), rules.pct(0, 5), rules.pct(3, 0)) == (
        33,
        67,
        13,
        0,
        None,
    )


def test_the_cohort_table_shows_weeks_that_have_begun_and_final_retention() -> None:
    cohorts = {"2026-W45": {"size": 8, "w0": 8, "w1": 3, "r30": 2, "activated": 4, "paid": 1}}
    [row] = rules.cohort_rows(cohorts, ["2026-W45"], date(2026, 11, 10))  # Tuesday of week 1
    assert row["size"] == 8 and row["starts"] == "2026-11-02"
    assert row["weeks"][:3] == [{"week": 0, "active": 8, "pct": 100}, {"week": 1, "active": 3, "pct": 38}, None]
    assert row["retention_30d"] == {"retained": 2, "pct": 25, "final": False}
    [later] = rules.cohort_rows(cohorts, ["2026-W45"], date(2026, 12, 15))  # the Sunday's day 36 was 12-14
    assert later["retention_30d"]["final"] is True


def test_cac_is_reward_cost_over_new_people_of_the_channel() -> None:
    days = {"2026-11-02": {"new|douyin": 3, "cost|douyin": 1000, "new|-": 1}, "2026-11-03": {"cost|sms": 200}}
    assert rules.channels(days) == [
        {"channel": None, "new": 1, "reward_cost_fen": 0, "cac_fen": 0},
        {"channel": "douyin", "new": 3, "reward_cost_fen": 1000, "cac_fen": 333},
        {"channel": "sms", "new": 0, "reward_cost_fen": 200, "cac_fen": None},
    ]


def test_quarters_and_their_cohort_weeks() -> None:
    assert rules.quarter_of(date(2027, 2, 14)) == "2027Q1"
    assert rules.quarter_range("2027Q4") == (date(2027, 10, 1), date(2027, 12, 31))
    weeks = rules.quarter_weeks("2027Q1")
    assert weeks[0] == "2027-W01" and weeks[-1] == "2027-W13" and len(weeks) == 13


def test_a_target_needs_a_valid_quarter_and_at_least_one_figure() -> None:
    assert GrowthTarget(quarter="2027Q1", retention_30d_pct=42).new_users is None
    for bad in ({"quarter": "2027Q5", "new_users": 1}, {"quarter": "2027Q1"}, {"quarter": "2027Q1",
                "paid_conversion_pct": 101}):  # fmt: skip
        with pytest.raises(ValidationError):
            GrowthTarget.model_validate(bad)


def test_progress_is_a_whole_percentage_of_each_target() -> None:
    target = {"new_users": 150, "retention_30d_pct": 42, "paid_conversion_pct": None, "monthly_active": 0}
    actual = {"new_users": 75, "retention_30d_pct": 21, "paid_conversion_pct": 3, "monthly_active": 10}
    assert rules.progress(target, actual) == {
        "new_users": 50, "retention_30d_pct": 50, "paid_conversion_pct": None, "monthly_active": None,
    }  # fmt: skip
