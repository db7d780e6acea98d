"""Tasks: the period a fact falls in across time zones and week boundaries, when it starts over, which facts move
which tasks, and what operators may send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.loyalty.rules.tasks import (
    MAX_TARGET,
    Fact,
    FactKind,
    Period,
    Task,
    TaskCreate,
    TaskPatch,
    keep_until,
    matches,
    period_key,
    progress_view,
    resets_at,
    reward_source,
)

pytestmark = pytest.mark.unit

SHANGHAI = "Asia/Shanghai"
NEW_YORK = "America/New_York"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def task(**fields: object) -> Task:
    base: dict[str, object] = {
        "tid": "t1", "task_id": "lt_0000000000000001", "name": "Invite 3 friends", "period": Period.WEEKLY,
        "fact": FactKind.INVITED, "target": 3, "points": 50, "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z",
    }  # fmt: skip
    return Task(**{**base, **fields})  # type: ignore[arg-type]


def test_a_daily_period_is_the_tenants_local_day_not_the_utc_day() -> None:
    # 17:30 UTC on Dec 7 is already 01:30 on Dec 8 in Shanghai, and still 12:30 on Dec 7 in New York.
    at = utc("2026-12-07T17:30:00")
    assert period_key(Period.DAILY, at, SHANGHAI) == "D2026-12-08"
    assert period_key(Period.DAILY, at, NEW_YORK) == "D2026-12-07"
    assert period_key(Period.DAILY, at, "UTC") == "D2026-12-07"


def test_the_local_day_turns_at_local_midnight() -> None:
    assert period_key(Period.DAILY, utc("2026-12-07T15:59:59"), SHANGHAI) == "D2026-12-07"
    assert period_key(Period.DAILY, utc("2026-12-07T16:00:00"), SHANGHAI) == "D2026-12-08"
    assert resets_at(Period.DAILY, utc("2026-12-07T03:00:00"), SHANGHAI) == "2026-12-07T16:00:00Z"


def test_a_week_runs_from_local_monday_to_sunday() -> None:
    # Sunday 2026-12-13 23:59 in Shanghai is week 50; Monday 00:00 is week 51.
    assert period_key(Period.WEEKLY, utc("2026-12-13T15:59:00"), SHANGHAI) == "W2026-W50"
    assert period_key(Period.WEEKLY, utc("2026-12-13T16:00:00"), SHANGHAI) == "W2026-W51"
    # The same instant is still Sunday in New York.
    assert period_key(Period.WEEKLY, utc("2026-12-13T16:00:00"), NEW_YORK) == "W2026-W50"
    assert resets_at(Period.WEEKLY, utc("2026-12-09T08:00:00"), SHANGHAI) == "2026-12-13T16:00:00Z"
    # On Monday itself the reset is the next Monday, a full week away.
    assert resets_at(Period.WEEKLY, utc("2026-12-13T16:00:00"), SHANGHAI) == "2026-12-20T16:00:00Z"


def test_the_week_year_around_new_year_is_the_iso_one() -> None:
    # Thursday 2026-12-31 is in ISO week 53 of 2026; Friday 2027-01-01 still is; Monday 2027-01-04 starts week 1.
    assert period_key(Period.WEEKLY, utc("2027-01-01T04:00:00"), SHANGHAI) == "W2026-W53"
    assert period_key(Period.WEEKLY, utc("2027-01-03T16:00:00"), SHANGHAI) == "W2027-W01"
    # 2025-12-29 (Monday) is week 1 of ISO year 2026.
    assert period_key(Period.WEEKLY, utc("2025-12-29T02:00:00"), SHANGHAI) == "W2026-W01"


def test_a_day_with_a_daylight_saving_change_ends_at_its_own_midnight() -> None:
    # 2026-03-08 in New York has 23 hours: it starts at 05:00 UTC and ends at 04:00 UTC the next day.
    assert resets_at(Period.DAILY, utc("2026-03-08T12:00:00"), NEW_YORK) == "2026-03-09T04:00:00Z"
    assert resets_at(Period.DAILY, utc("2026-03-07T12:00:00"), NEW_YORK) == "2026-03-08T05:00:00Z"


def test_a_one_off_task_never_resets() -> None:
    assert period_key(Period.ONCE, utc("2026-12-07T00:00:00"), SHANGHAI) == "ONCE"
    assert resets_at(Period.ONCE, utc("2026-12-07T00:00:00"), SHANGHAI) is None
    assert keep_until(Period.ONCE, utc("2026-12-07T00:00:00"), SHANGHAI) is None


def test_an_instant_in_any_zone_falls_in_the_same_period() -> None:
    plus8 = datetime(2026, 12, 8, 1, 30, tzinfo=timezone(timedelta(hours=8)))
    assert period_key(Period.DAILY, plus8, SHANGHAI) == period_key(Period.DAILY, plus8.astimezone(UTC), SHANGHAI)
    with pytest.raises(ValueError, match="time zone"):
        period_key(Period.DAILY, datetime(2026, 12, 8), SHANGHAI)  # noqa: DTZ001 - naive on purpose


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)),
       st.sampled_from([SHANGHAI, NEW_YORK, "Europe/London", "Australia/Lord_Howe", "UTC"]),
       st.sampled_from([Period.DAILY, Period.WEEKLY]))  # fmt: skip
def test_the_period_changes_exactly_at_its_reset(at: datetime, tz: str, period: Period) -> None:
    end = datetime.fromisoformat(str(resets_at(period, at, tz)).replace("Z", "+00:00"))
    assert end > at
    assert period_key(period, end - timedelta(seconds=1), tz) == period_key(period, at, tz)
    assert period_key(period, end, tz) != period_key(period, at, tz)
    assert end - at <= timedelta(days=1 if period is Period.DAILY else 7, hours=1)


def test_a_fact_moves_the_active_tasks_of_its_kind_and_campaign() -> None:
    invite = Fact(FactKind.INVITED, "invited:c1:x", utc("2026-12-07T00:00:00"), "c1")
    assert matches(task(), invite)
    assert matches(task(campaign_id="c1"), invite)
    assert not matches(task(campaign_id="c2"), invite)
    assert not matches(task(active=False), invite)
    assert not matches(task(fact=FactKind.JOINED), invite)
    check_in = Fact(FactKind.CHECKED_IN, "checked_in:2026-12-07", utc("2026-12-07T00:00:00"))
    assert matches(task(fact=FactKind.CHECKED_IN), check_in)
    assert not matches(task(fact=FactKind.CHECKED_IN, campaign_id="c1"), check_in)


def test_the_reward_source_names_the_task_and_period() -> None:
    assert reward_source("lt_1", "W2026-W50") == "task:lt_1:W2026-W50"


def test_the_participants_view_caps_progress_at_the_target() -> None:
    now = utc("2026-12-09T08:00:00")
    view = progress_view(task(), 5, now, SHANGHAI)
    assert (view["progress"], view["target"], view["done"]) == (3, 3, True)
    assert view["period_key"] == "W2026-W50" and view["resets_at"] == "2026-12-13T16:00:00Z"
    assert progress_view(task(), 2, now, SHANGHAI)["done"] is False


def test_operators_send_a_task_with_a_known_period_fact_and_a_bounded_target() -> None:
    body = {"name": "签到 5 天", "period": "weekly", "fact": "checked_in", "target": 5, "reward": {"points": 20}}
    made = TaskCreate.model_validate(body)
    assert made.period is Period.WEEKLY and made.fact is FactKind.CHECKED_IN and made.active
    for bad in ({"period": "monthly"}, {"fact": "shared"}, {"target": 0}, {"target": MAX_TARGET + 1},
                {"reward": {"points": 0}}, {"reward": {"coupon": "x"}}, {"extra": 1}):  # fmt: skip
        with pytest.raises(ValidationError):
            TaskCreate.model_validate({**body, **bad})
    assert TaskPatch.model_validate({"active": False}).model_dump(exclude_unset=True) == {"active": False}
