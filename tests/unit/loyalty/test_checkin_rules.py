"""Check-in streaks on local dates: time zones (with and without daylight saving), months, make-ups (pure)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from chalicelib.loyalty.rules import checkins as rules
from chalicelib.loyalty.rules.checkins import CheckinSettings

SEVEN = CheckinSettings.model_validate({
    "enabled": True, "cycle_days": 7,
    "ladder": [{"day": 1, "points": 10}, {"day": 2, "points": 20}, {"day": 7, "points": 100, "coupon": {"name": "5"}}],
})  # fmt: skip


def _days(*spec: str) -> set[date]:
    return {date.fromisoformat(d) for d in spec}


def _run(first: str, n: int) -> set[date]:
    start = date.fromisoformat(first)
    return {start + timedelta(days=i) for i in range(n)}


def test_the_local_day_in_shanghai_turns_at_16_utc() -> None:
    assert rules.local_day(datetime(2026, 3, 1, 15, 59, tzinfo=UTC), "Asia/Shanghai") == date(2026, 3, 1)
    assert rules.local_day(datetime(2026, 3, 1, 16, 1, tzinfo=UTC), "Asia/Shanghai") == date(2026, 3, 2)


def test_the_local_day_in_new_york_follows_daylight_saving() -> None:
    # Winter (UTC-5): midnight is 05:00 UTC; summer (UTC-4): 04:00 UTC.
    assert rules.local_day(datetime(2026, 1, 10, 4, 59, tzinfo=UTC), "America/New_York") == date(2026, 1, 9)
    assert rules.local_day(datetime(2026, 1, 10, 5, 1, tzinfo=UTC), "America/New_York") == date(2026, 1, 10)
    assert rules.local_day(datetime(2026, 7, 10, 3, 59, tzinfo=UTC), "America/New_York") == date(2026, 7, 9)
    assert rules.local_day(datetime(2026, 7, 10, 4, 1, tzinfo=UTC), "America/New_York") == date(2026, 7, 10)


def test_a_streak_over_the_spring_forward_night_is_unbroken() -> None:
    # 2026-03-08 has 23 hours in New York: check-ins 23 hours apart on consecutive local days still chain.
    first = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)  # 07:00 EST on the 7th
    moments = [first, first + timedelta(hours=23), first + timedelta(hours=46)]
    days = {rules.local_day(m, "America/New_York") for m in moments}
    assert days == _days("2026-03-07", "2026-03-08", "2026-03-09")
    assert rules.streak_ending(days, date(2026, 3, 9)) == 3


def test_two_check_ins_25_hours_apart_over_fall_back_are_consecutive_days() -> None:
    first = datetime(2026, 11, 1, 3, 30, tzinfo=UTC)  # 23:30 EDT on Oct 31
    second = first + timedelta(hours=25)  # 23:30 EST on Nov 1
    days = {rules.local_day(first, "America/New_York"), rules.local_day(second, "America/New_York")}
    assert days == _days("2026-10-31", "2026-11-01")
    assert rules.longest_streak(days) == 2


def test_a_streak_runs_across_a_month_and_a_year_boundary() -> None:
    days = _run("2026-12-29", 5)
    assert rules.streak_ending(days, date(2027, 1, 2)) == 5
    assert rules.current_streak(days, date(2027, 1, 3)) == 5  # today not yet checked in: still alive
    assert rules.current_streak(days, date(2027, 1, 4)) == 0  # a missed day broke it


def test_the_current_streak_counts_today_once_it_is_checked_in() -> None:
    days = _days("2026-05-01", "2026-05-02")
    assert rules.current_streak(days, date(2026, 5, 2)) == 2
    assert rules.next_streak(days, date(2026, 5, 2)) == (date(2026, 5, 3), 3)
    assert rules.next_streak(days, date(2026, 5, 3)) == (date(2026, 5, 3), 3)
    assert rules.next_streak(days, date(2026, 5, 4)) == (date(2026, 5, 4), 1)


def test_a_make_up_bridging_a_gap_reconnects_the_streak() -> None:
    days = _days("2026-05-01", "2026-05-02", "2026-05-04")
    assert rules.current_streak(days, date(2026, 5, 4)) == 1
    assert rules.current_streak(days | _days("2026-05-03"), date(2026, 5, 4)) == 4


def test_a_make_up_joins_two_streaks_into_the_longest() -> None:
    days = _run("2026-06-01", 5) | _run("2026-06-07", 4)
    assert rules.longest_streak(days) == 5
    joined = days | _days("2026-06-06")
    assert rules.longest_streak(joined) == 10
    assert rules.streak_ending(joined, date(2026, 6, 10)) == 10


def test_the_ladder_repeats_after_its_cycle_and_days_it_lacks_give_nothing() -> None:
    assert [rules.cycle_day(n, 7) for n in (1, 7, 8, 14, 15)] == [1, 7, 1, 7, 1]
    assert rules.reward_for(SEVEN, 1).points == 10  # type: ignore[union-attr]
    assert rules.reward_for(SEVEN, 9).points == 20  # type: ignore[union-attr]
    assert rules.reward_for(SEVEN, 3) is None
    seventh = rules.reward_for(SEVEN, 14)
    assert seventh is not None and seventh.points == 100 and seventh.coupon is not None


@pytest.mark.parametrize(
    ("day", "today", "first", "problem"),
    [
        ("2026-05-10", "2026-05-10", "2026-05-01", rules.MAKEUP_FUTURE),
        ("2026-05-11", "2026-05-10", "2026-05-01", rules.MAKEUP_FUTURE),
        ("2026-04-30", "2026-05-02", "2026-04-01", rules.MAKEUP_OTHER_MONTH),
        ("2026-05-01", "2026-05-10", "2026-05-01", rules.MAKEUP_TOO_OLD),
        ("2026-05-03", "2026-05-10", "2026-05-05", rules.MAKEUP_BEFORE_START),
        ("2026-05-03", "2026-05-10", None, rules.MAKEUP_BEFORE_START),
        ("2026-05-06", "2026-05-10", "2026-05-05", None),
        ("2026-05-03", "2026-05-10", "2026-05-03", None),
    ],
)
def test_a_make_up_covers_a_past_day_of_this_month_within_the_window(
    day: str, today: str, first: str | None, problem: str | None
) -> None:
    found = rules.makeup_problem(
        date.fromisoformat(day), date.fromisoformat(today), date.fromisoformat(first) if first else None, 7
    )
    assert found == problem


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"cycle_days": 3, "ladder": [{"day": 4, "points": 1}]}, "beyond the cycle"),
        ({"ladder": [{"day": 1, "points": 1}, {"day": 1, "points": 2}]}, "appear once"),
        ({"ladder": [{"day": 1}]}, "gives nothing"),
        ({"enabled": True}, "at least one ladder day"),
        ({"cycle_days": 0}, "greater than or equal to 1"),
        ({"makeup_cards_per_month": -1}, "greater than or equal to 0"),
        ({"ladder": [{"day": 1, "points": 1, "coupon": {"name": ""}}]}, "at least 1 character"),
        ({"surprise": 1}, "Extra inputs"),
    ],
)
def test_settings_that_cannot_work_are_refused(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CheckinSettings.model_validate(body)


def test_the_ladder_is_kept_in_day_order() -> None:
    settings = CheckinSettings.model_validate({"ladder": [{"day": 3, "points": 3}, {"day": 1, "points": 1}]})
    assert [step.day for step in settings.ladder] == [1, 3]
