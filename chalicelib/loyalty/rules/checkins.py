"""Daily check-ins (每日签到): the tenant's settings and the streak arithmetic on local dates (pure, no I/O).

A person checks in once per local day of the tenant's time zone. A **streak** is a run of consecutive local dates
that are checked in or made up (补签). Each check-in is rewarded by its position in the reward ladder: the day of
the streak it makes, counted in cycles of `cycle_days` (day 8 of a 7-day cycle is the ladder's day 1 again). A
make-up card covers one missed past day of the current month: it reconnects the streak but gives no reward of its
own, and never changes a reward already given (the reward of a day is fixed when that day is checked in).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_CYCLE_DAYS = 31
MAX_DAY_POINTS = 1_000_000
MAX_MAKEUP_CARDS = 31
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


class CheckinCoupon(BaseModel):
    """A coupon issued as a reward of the participant's campaign (exactly once per person and day)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=60)
    value_fen: int = Field(
        default=0, ge=0, le=100_000_000, description="The coupon's face value, charged to the budget."
    )


class LadderDay(BaseModel):
    """What checking in on `day` of the cycle gives: points, a coupon, or both."""

    model_config = ConfigDict(extra="forbid")

    day: int = Field(ge=1, le=MAX_CYCLE_DAYS, description="The day of the cycle, 1 for the first day of a streak.")
    points: int = Field(default=0, ge=0, le=MAX_DAY_POINTS)
    coupon: CheckinCoupon | None = None

    @model_validator(mode="after")
    def _gives_something(self) -> Self:
        if self.points == 0 and self.coupon is None:
            raise ValueError(f"ladder day {self.day} gives nothing: set points > 0 or a coupon")
        return self


class CheckinSettings(BaseModel):
    """The tenant's check-in programme. Days of the cycle absent from the ladder give nothing."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    cycle_days: int = Field(
        default=7, ge=1, le=MAX_CYCLE_DAYS, description="After this many days of a streak the ladder starts again."
    )
    ladder: list[LadderDay] = Field(default_factory=list, max_length=MAX_CYCLE_DAYS)
    makeup_cards_per_month: int = Field(
        default=2, ge=0, le=MAX_MAKEUP_CARDS, description="Make-up cards (补签) a person may use per calendar month."
    )
    makeup_window_days: int = Field(
        default=31, ge=1, le=31,
        description="How many days back a make-up may reach (always within the current month, never today or later).",
    )  # fmt: skip

    @model_validator(mode="after")
    def _ladder_fits_the_cycle(self) -> Self:
        days = [step.day for step in self.ladder]
        if len(set(days)) != len(days):
            raise ValueError("each day of the ladder may appear once")
        beyond = [d for d in days if d > self.cycle_days]
        if beyond:
            raise ValueError(f"ladder days {beyond} lie beyond the cycle of {self.cycle_days} days")
        if self.enabled and not self.ladder:
            raise ValueError("an enabled check-in programme needs at least one ladder day")
        self.ladder.sort(key=lambda step: step.day)
        return self


class MakeupRequest(BaseModel):
    """A participant covers one missed day with a make-up card."""

    model_config = ConfigDict(extra="forbid")

    date: date


@dataclass(frozen=True)
class CheckinDay:
    """One covered day as the store returns it. `streak` is the streak day it made when written (a make-up's is
    0: its place in a streak is read from the calendar); `points` and `coupon` are the reward it gave."""

    day: date
    made_up: bool
    streak: int
    points: int
    created_at: str
    cid: str
    coupon: CheckinCoupon | None = None

    def view(self) -> dict[str, object]:
        return {
            "date": self.day.isoformat(), "made_up": self.made_up, "streak_day": self.streak or None,
            "points": self.points, "coupon": self.coupon.model_dump() if self.coupon else None,
            "created_at": self.created_at, "campaign_id": self.cid,
        }  # fmt: skip


# --- local days --------------------------------------------------------------------------------------------------


def local_day(now: datetime, timezone: str) -> date:
    """The calendar date at `now` (aware) in `timezone`: the day a check-in counts for."""
    return now.astimezone(ZoneInfo(timezone)).date()


def month_of(day: date) -> str:
    return day.isoformat()[:7]


def month_start(month: str) -> date:
    """The first day of `YYYY-MM` (validated with `MONTH_RE` first)."""
    year, number = month.split("-")
    return date(int(year), int(number), 1)


# --- streaks -----------------------------------------------------------------------------------------------------


def streak_ending(days: Iterable[date], end: date) -> int:
    """How many consecutive covered days end at `end` (0 when `end` itself is not covered)."""
    covered = set(days)
    count, day = 0, end
    while day in covered:
        count += 1
        day -= timedelta(days=1)
    return count


def current_streak(days: Iterable[date], today: date) -> int:
    """The streak still alive today: ending today when today is covered, else ending yesterday (today may still
    extend it)."""
    covered = set(days)
    return streak_ending(covered, today if today in covered else today - timedelta(days=1))


def longest_streak(days: Iterable[date]) -> int:
    best = run = 0
    previous: date | None = None
    for day in sorted(set(days)):
        run = run + 1 if previous is not None and day - previous == timedelta(days=1) else 1
        best = max(best, run)
        previous = day
    return best


def cycle_day(streak: int, cycle_days: int) -> int:
    """The ladder day of the `streak`-th day of a streak (1-based), the ladder repeating every `cycle_days`."""
    if streak < 1:
        raise ValueError("a streak day is 1 or more")
    return (streak - 1) % cycle_days + 1


def reward_for(settings: CheckinSettings, streak: int) -> LadderDay | None:
    """The reward of checking in on the `streak`-th day of a streak; None when that ladder day gives nothing."""
    day = cycle_day(streak, settings.cycle_days)
    return next((step for step in settings.ladder if step.day == day), None)


def next_streak(days: Iterable[date], today: date) -> tuple[date, int]:
    """The next day a check-in can be made and the streak day it would make: today if not yet checked in, else
    tomorrow."""
    covered = set(days)
    nxt = today + timedelta(days=1) if today in covered else today
    return nxt, streak_ending(covered | {nxt}, nxt)


# --- make-ups ----------------------------------------------------------------------------------------------------

MAKEUP_FUTURE = "not_in_the_past"
MAKEUP_OTHER_MONTH = "not_this_month"
MAKEUP_TOO_OLD = "beyond_window"
MAKEUP_BEFORE_START = "before_first_check_in"


def makeup_problem(day: date, today: date, first: date | None, window_days: int) -> str | None:
    """Why `day` may not be made up today, or None. A make-up covers a past day (never today: today is checked in)
    of the current month, at most `window_days` back, and not before the person's first check-in (a make-up fills
    a gap; it does not invent a history)."""
    if day >= today:
        return MAKEUP_FUTURE
    if month_of(day) != month_of(today):
        return MAKEUP_OTHER_MONTH
    if (today - day).days > window_days:
        return MAKEUP_TOO_OLD
    if first is None or day < first:
        return MAKEUP_BEFORE_START
    return None
