"""Budget stop-loss lines: windows, sums by scope, CAC with its minimum sample, and one trip per crossing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from pydantic import ValidationError

from chalicelib.analytics.rules.stoploss import (
    CAMPAIGN,
    MAX_LIFETIME_DAYS,
    Line,
    StopLossRequest,
    read,
    step,
    sums,
    trip_of,
    window,
)

TODAY = date(2026, 3, 10)
STARTS = date(2026, 3, 1)


def _counts(cost: dict[str, int], qualified: dict[str, int]) -> dict[str, int]:
    found = {f"n|reward_cost_fen|{ch}|-": v for ch, v in cost.items()}
    found.update({f"n|qualified|{ch}|-": v for ch, v in qualified.items()})
    return found


def test_a_day_window_is_the_last_n_campaign_days_up_to_today() -> None:
    days = window(Line(spend_fen=1, window_days=3), TODAY, STARTS)
    assert days == [date(2026, 3, 8), date(2026, 3, 9), TODAY]


def test_a_window_never_reaches_before_the_campaign_started() -> None:
    assert window(Line(spend_fen=1, window_days=30), TODAY, STARTS)[0] == STARTS


def test_a_lifetime_window_runs_from_the_start_and_is_bounded() -> None:
    assert window(Line(spend_fen=1), TODAY, STARTS) == [STARTS + timedelta(days=i) for i in range(10)]
    long_ago = TODAY - timedelta(days=1000)
    assert len(window(Line(spend_fen=1), TODAY, long_ago)) == MAX_LIFETIME_DAYS


def test_a_campaign_line_sums_every_channel_and_a_channel_line_only_its_own() -> None:
    per_day = {
        TODAY: _counts({"douyin": 300, "sms": 200, "-": 50}, {"douyin": 3, "sms": 1}),
        TODAY - timedelta(days=1): _counts({"douyin": 100}, {"douyin": 1}),
        TODAY - timedelta(days=5): _counts({"douyin": 10_000}, {}),  # outside a 2-day window
    }
    days = window(Line(spend_fen=1, window_days=2), TODAY, STARTS)
    assert sums(Line(spend_fen=1, window_days=2), per_day, days) == (650, 5)
    assert sums(Line(channel="douyin", spend_fen=1, window_days=2), per_day, days) == (400, 4)
    assert sums(Line(channel="wechat_group", spend_fen=1, window_days=2), per_day, days) == (0, 0)


def test_spend_crosses_only_above_its_line() -> None:
    line = Line(spend_fen=1000)
    assert read(line, 1000, 0).crossed is None
    assert read(line, 1001, 0).crossed == "spend"


def test_one_early_reward_never_trips_a_cac_ceiling_below_the_minimum_sample() -> None:
    line = Line(cac_fen=100, min_sample=10)
    early = read(line, 5000, 1)
    assert early.cac_fen is None and early.crossed is None
    assert read(line, 999, 10).crossed is None  # 99 fen per new participant
    crossed = read(line, 1010, 10)
    assert crossed.cac_fen == 101 and crossed.crossed == "cac"


def test_a_trip_records_the_value_and_the_limit_it_crossed() -> None:
    line = Line(spend_fen=500, cac_fen=10, min_sample=1)
    reading = read(line, 600, 2)
    assert reading.crossed == "spend"  # spend is judged first
    trip = trip_of(line, reading, "2026-03-10T08:00:00Z")
    assert trip == {
        "at": "2026-03-10T08:00:00Z", "kind": "spend", "value_fen": 600, "limit_fen": 500, "cost_fen": 600,
        "qualified": 2, "cac_fen": 300,
    }  # fmt: skip
    cac_line = Line(cac_fen=10, min_sample=1)
    assert trip_of(cac_line, read(cac_line, 600, 2), "t")["value_fen"] == 300


def test_one_crossing_trips_once_and_rearms_when_it_ends() -> None:
    line = Line(spend_fen=100)
    crossed, below = read(line, 101, 0), read(line, 99, 0)
    assert step(False, crossed) == "trip"
    assert step(True, crossed) == "hold"  # the next tick: still the same crossing
    assert step(True, below) == "rearm"
    assert step(False, below) == "hold"


def test_a_line_needs_something_to_watch_and_one_line_per_scope() -> None:
    with pytest.raises(ValidationError, match="spend_fen, cac_fen or both"):
        Line()
    with pytest.raises(ValidationError, match="one line per channel"):
        StopLossRequest(lines=[Line(spend_fen=1), Line(cac_fen=1)])
    with pytest.raises(ValidationError):
        Line(spend_fen=0)
    with pytest.raises(ValidationError):
        Line(spend_fen=1, channel="Not A Channel")
    with pytest.raises(ValidationError):
        Line(spend_fen=1, window_days=91)
    ok = StopLossRequest(lines=[Line(spend_fen=1), Line(channel="douyin", cac_fen=1)])
    assert [line.key for line in ok.lines] == [CAMPAIGN, "douyin"]
