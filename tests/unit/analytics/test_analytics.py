"""The stats report's maths, on small hand-computed inputs and against scipy for the z-test."""

from __future__ import annotations

import json
import math
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction
from typing import Any

import pytest
from scipy import stats  # type: ignore[import-untyped]  # the reference implementation (development only)

from chalicelib.analytics.rules.stats import (
    KNOWN_CHANNELS,
    MIN_SAMPLE,
    SAMPLE_WARNING,
    Z_CRIT_95,
    Counter,
    by_channel,
    by_variant,
    generations_sum,
    histogram,
    parse_counter,
    percentile,
    report,
    sum_metric,
    totals,
    two_proportion_z_test,
    validate_range,
)
from chalicelib.core.errors import ValidationFailed

CST = timezone(timedelta(hours=8))
DAY = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=CST)


def _report(days: dict[date, dict[str, int]], **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "start": min(days, default=DAY),
        "end": max(days, default=DAY),
        "granularity": "total",
        "now": NOW,
        "ends_at": NOW + timedelta(days=7),
        "budget_fen": None,
        "variants": [],
        "top_inviters": [],
    }
    args.update(kw)
    return report(days, **args)


def _close(actual: float | None, expected: float) -> bool:
    """Within 1e-9, relative for tiny values (tail p-values)."""
    assert actual is not None
    tol = 1e-9 * abs(expected) if abs(expected) < 1e-6 else 1e-9
    return abs(actual - expected) <= tol


# --- counters ------------------------------------------------------------------------------


def test_parse_counter_reads_channels_variants_buckets_and_depths() -> None:
    assert parse_counter("n|join|qr_offline_2|v1") == Counter("n", "join", "qr_offline_2", "v1", None)
    assert parse_counter("n|share|wechat_moments|-") == Counter("n", "share", "wechat_moments", None, None)
    assert parse_counter("n|join|-|-") == Counter("n", "join", None, None, None)
    assert parse_counter("h|cycle|15") == Counter("h", "cycle", None, None, 15)
    depth = parse_counter("n|depth:3|-|B")
    assert depth is not None and depth.depth == 3 and depth.variant == "B"
    join = parse_counter("n|join|-|-")
    assert join is not None and join.depth is None


@pytest.mark.parametrize(
    "name",
    [
        "",
        "PK",
        "n|join|-",
        "n|join|-|-|x",
        "n||-|-",
        "n|join||-",
        "x|join|-|-",
        "h|cycle|abc",
        "h|cycle|-1",
        "h|cycle|1.5",
        "h|cycle",
        "n|depth:x|-|-",
        "n|depth:|-|-",
        "n| join|-|-",
    ],
)
def test_parse_counter_ignores_malformed_names(name: str) -> None:
    assert parse_counter(name) is None


def test_totals_and_helpers_sum_over_days_shards_channels_and_variants() -> None:
    days = [
        {"n|join|douyin|A": 2, "n|join|-|B": 1, "h|cycle|5": 1, "PK": 7, "n|bad": 9},
        {"n|join|douyin|A": 3, "n|join|sms|A": 4, "h|cycle|5": 2, "h|cycle|9": 1},
    ]
    t = totals(days)
    assert t == {"n|join|douyin|A": 5, "n|join|-|B": 1, "n|join|sms|A": 4, "h|cycle|5": 3, "h|cycle|9": 1}
    assert sum_metric(t, "join") == 10
    assert by_channel(t, "join") == {"douyin": 5, None: 1, "sms": 4}
    assert by_variant(t, "join") == {"A": 9, "B": 1}
    assert histogram(t, "cycle") == {5: 3, 9: 1}


# --- range ---------------------------------------------------------------------------------


def test_validate_range_defaults_to_the_last_30_days_by_day() -> None:
    assert validate_range(None, None, None, DAY) == (DAY - timedelta(days=29), DAY, "day")
    assert validate_range("", "", "", DAY) == (DAY - timedelta(days=29), DAY, "day")
    assert validate_range(None, "2026-01-31", "week", DAY) == (date(2026, 1, 2), date(2026, 1, 31), "week")
    assert validate_range("2026-03-01", None, "total", DAY) == (date(2026, 3, 1), DAY, "total")


def test_validate_range_allows_366_days_inclusive() -> None:
    start, end, _ = validate_range("2024-01-01", "2024-12-31", "day", DAY)
    assert (end - start).days + 1 == 366


@pytest.mark.parametrize(
    ("from_", "to", "gran", "code", "field"),
    [
        ("2026-1-01", None, None, "INVALID_RANGE", "from"),
        ("20260101", None, None, "INVALID_RANGE", "from"),
        (None, "2026-02-30", None, "INVALID_RANGE", "to"),
        ("2026-03-05", "2026-03-04", None, "INVALID_RANGE", None),
        ("2024-01-01", "2025-01-01", None, "INVALID_RANGE", None),
        (None, None, "month", "INVALID_GRANULARITY", "granularity"),
        (None, None, "Day", "INVALID_GRANULARITY", "granularity"),
    ],
)
def test_validate_range_rejects(from_: str | None, to: str | None, gran: str | None, code: str, field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_range(from_, to, gran, DAY)
    assert exc.value.code == code and exc.value.status == 422
    if field:
        assert exc.value.details["field"] == field
    if code == "INVALID_RANGE" and field is None:
        assert set(exc.value.details) >= {"from", "to"}


def test_a_too_long_range_says_how_long() -> None:
    with pytest.raises(ValidationFailed) as exc:
        validate_range("2024-01-01", "2025-01-01", None, DAY)
    assert exc.value.details["days"] == 367 and exc.value.details["max_days"] == 366
    assert "367 days" in exc.value.message


# --- z-test --------------------------------------------------------------------------------

Z_CASES = [
    (10, 100, 15, 100),
    (45, 120, 30, 80),
    (1, 2, 2, 3),
    (0, 10, 1, 10),
    (0, 5, 5, 5),
    (1000, 1000, 990, 1000),
    (0, 1000, 100, 1000),
    (50, 100, 50, 100),
    (5, 10, 10, 20),
    (123_456, 1_000_000, 124_567, 1_000_000),
    (1_234_567, 1_000_000_000, 1_240_000, 1_000_000_000),
    (3, 7, 200_000, 400_001),
    (1, 100_000, 30, 100_000),
]


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), Z_CASES)
def test_z_test_matches_scipy(x1: int, n1: int, x2: int, n2: int) -> None:
    t = two_proportion_z_test(x1, n1, x2, n2)
    p1, p2 = Fraction(x1, n1), Fraction(x2, n2)
    assert t.p1 == float(p1) and t.p2 == float(p2)
    assert _close(t.diff, float(p2 - p1)) or float(p2 - p1) == t.diff
    pooled = Fraction(x1 + x2, n1 + n2)
    var0 = pooled * (1 - pooled) * (Fraction(1, n1) + Fraction(1, n2))
    z = float(p2 - p1) / math.sqrt(var0)
    if z == 0.0:
        assert t.z == 0.0 and t.p_value == 1.0
    else:
        assert _close(t.z, z)
        assert _close(t.p_value, float(stats.norm.sf(abs(z)) * 2))
    var = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
    if var == 0:
        assert t.ci_low is None and t.ci_high is None
    else:
        half = float(stats.norm.ppf(0.975)) * math.sqrt(var)
        assert t.ci_low is not None and t.ci_high is not None
        assert abs(t.ci_low - (float(p2 - p1) - half)) <= 1e-9
        assert abs(t.ci_high - (float(p2 - p1) + half)) <= 1e-9


def test_z_crit_is_the_975_quantile() -> None:
    assert abs(Z_CRIT_95 - float(stats.norm.ppf(0.975))) <= 1e-12


@pytest.mark.parametrize(("x1", "n1", "x2", "n2"), [(0, 50, 0, 50), (7, 7, 3, 3)])
def test_z_test_without_variance_has_no_z_nor_interval(x1: int, n1: int, x2: int, n2: int) -> None:
    t = two_proportion_z_test(x1, n1, x2, n2)
    assert t.diff == 0.0 and t.z is None and t.p_value is None and t.ci_low is None and t.ci_high is None


def test_z_test_with_an_empty_arm_has_nothing_to_compare() -> None:
    t = two_proportion_z_test(0, 0, 3, 10)
    assert t.p1 is None and t.p2 == 0.3 and t.diff is None and t.z is None and t.p_value is None
    assert t.ci_low is None and t.ci_high is None


def test_z_test_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        two_proportion_z_test(11, 10, 1, 10)
    with pytest.raises(ValueError):
        two_proportion_z_test(-1, 10, 1, 10)


# --- report blocks -------------------------------------------------------------------------


def test_funnel_k_factor_roi_totals_and_data_quality() -> None:
    day = {
        "n|view|douyin|-": 60,
        "n|view|-|-": 40,
        "n|join|douyin|-": 20,
        "n|share|douyin|-": 10,
        "n|invited_join|douyin|-": 5,
        "n|qualified|douyin|-": 5,
        "n|converted|-|-": 2,
        "n|reward_cost_fen|-|-": 3000,
        "n|commission_fen|-|-": 1000,
        "n|attributed_revenue_fen|-|-": 10000,
        "n|revenue_fen|-|-": 25000,
        "n|refunded_fen|-|-": 500,
        "n|dq_invalid_event|-|-": 3,
        "n|dq_dropped|-|-": 1,
        "n|depth:0|-|-": 20,
    }
    r = _report({DAY: day})
    assert [(s["step"], s["count"], s["rate"]) for s in r["funnel"]] == [
        ("view", 100, None),
        ("join", 20, 0.2),
        ("share", 10, 0.5),
        ("click", 0, 0.0),
        ("qualified", 5, None),
        ("converted", 2, 0.4),
    ]
    assert r["k_factor"] == {
        "invites_per_participant": 0.5,
        "invite_conversion": 0.5,
        "k_sent": 0.25,
        "k_realised": 0.25,
    }
    assert r["roi"] == {
        "cost_fen": 4000,
        "attributed_revenue_fen": 10000,
        "revenue_fen": 25000,
        "refunded_fen": 500,
        "roi": 1.5,
        "cost_per_qualified_fen": 800.0,
    }
    assert r["totals"]["view"] == 100 and r["totals"]["rewards"] == 0 and "dq_dropped" not in r["totals"]
    assert "depth:0" not in r["totals"]
    assert r["data_quality"] == {"invalid_events": 3, "dropped": 1}
    json.dumps(r)


def test_ratios_without_denominators_are_null() -> None:
    r = _report({DAY: {"n|share|-|-": 3, "n|invited_join|-|-": 1, "n|reward_cost_fen|-|-": -100}})
    assert r["k_factor"] == {
        "invites_per_participant": None,
        "invite_conversion": 1 / 3,
        "k_sent": None,
        "k_realised": None,
    }
    assert r["roi"]["roi"] is None and r["roi"]["cost_per_qualified_fen"] is None
    assert r["cycle_time_minutes"] == {"median": None, "p90": None, "samples": 0}
    assert r["generations"] == []
    assert r["data_quality"] == {"invalid_events": 0, "dropped": 0}


def test_generations_ascend_over_variants() -> None:
    r = _report({DAY: {"n|depth:2|-|A": 1, "n|depth:0|-|A": 5, "n|depth:0|-|B": 4, "n|depth:1|-|-": 3}})
    assert r["generations"] == [
        {"depth": 0, "participants": 9},
        {"depth": 1, "participants": 3},
        {"depth": 2, "participants": 1},
    ]


@pytest.mark.parametrize(
    ("hist", "median", "p90"),
    [
        ({1: 1, 2: 1, 3: 1, 4: 1}, 2, 4),
        ({5: 9, 100: 1}, 5, 5),
        ({5: 8, 100: 2}, 5, 100),
        ({7: 1}, 7, 7),
        ({30: 3, 10: 1, 20: 1}, 30, 30),
    ],
)
def test_cycle_time_is_nearest_rank(hist: dict[int, int], median: int, p90: int) -> None:
    assert percentile(hist, 50) == median and percentile(hist, 90) == p90
    r = _report({DAY: {f"h|cycle|{b}": c for b, c in hist.items()}})
    assert r["cycle_time_minutes"] == {"median": median, "p90": p90, "samples": sum(hist.values())}


def test_cycle_time_sums_days() -> None:
    r = _report({DAY: {"h|cycle|10": 1}, DAY - timedelta(days=1): {"h|cycle|10": 1, "h|cycle|40": 2}})
    assert r["cycle_time_minutes"] == {"median": 10, "p90": 40, "samples": 4}


def test_series_by_day_fills_empty_days_and_ignores_days_outside() -> None:
    d0 = date(2026, 3, 1)
    days = {
        d0: {"n|join|-|-": 2, "n|revenue_fen|-|-": 100},
        d0 + timedelta(days=2): {"n|join|sms|A": 1, "n|reward_cost_fen|-|-": 50},
        d0 + timedelta(days=5): {"n|join|-|-": 99},
    }
    r = _report(days, start=d0, end=d0 + timedelta(days=2), granularity="day")
    assert [(s["period"], s["join"], s["revenue_fen"], s["reward_cost_fen"]) for s in r["series"]] == [
        ("2026-03-01", 2, 100, 0),
        ("2026-03-02", 0, 0, 0),
        ("2026-03-03", 1, 0, 50),
    ]
    assert r["totals"]["join"] == 3
    assert set(r["series"][0]) == {
        "period",
        "start",
        "end",
        "view",
        "join",
        "share",
        "click",
        "qualified",
        "converted",
        "revenue_fen",
        "reward_cost_fen",
    }


def test_weeks_are_iso_weeks_from_monday_across_the_year_end() -> None:
    start, end = date(2025, 12, 27), date(2026, 1, 6)
    days = {start + timedelta(days=i): {"n|join|-|-": i + 1} for i in range((end - start).days + 1)}
    r = _report(days, start=start, end=end, granularity="week")
    assert [(s["period"], s["start"], s["end"], s["join"]) for s in r["series"]] == [
        ("2025-W52", "2025-12-27", "2025-12-28", 1 + 2),
        ("2026-W01", "2025-12-29", "2026-01-04", sum(range(3, 10))),
        ("2026-W02", "2026-01-05", "2026-01-06", 10 + 11),
    ]
    total = _report(days, start=start, end=end, granularity="total")["series"]
    assert total == [{**total[0], "period": "total", "start": "2025-12-27", "end": "2026-01-06", "join": 66}]


def test_channel_table_includes_unknown_and_direct_channels() -> None:
    day = {
        "n|join|wechat_group|A": 3,
        "n|join|wechat_group|B": 2,
        "n|share|wechat_group|A": 7,
        "n|click|wechat_group|-": 6,
        "n|converted|wechat_group|A": 1,
        "n|revenue_fen|wechat_group|A": 990,
        "n|join|partner_42_x|-": 5,
        "n|join|-|-": 5,
        "n|join|douyin|-": 1,
        "n|view|sms|-": 4,
        "n|depth:0|-|-": 16,
        "n|dq_dropped|-|-": 1,
    }
    rows = _report({DAY: day})["channels"]
    assert [(r["channel"], r["known"], r["joins"]) for r in rows] == [
        ("partner_42_x", False, 5),
        ("wechat_group", True, 5),
        (None, False, 5),
        ("douyin", True, 1),
        ("sms", True, 0),
    ]
    assert rows[1] == {
        "channel": "wechat_group",
        "known": True,
        "shares": 7,
        "clicks": 6,
        "joins": 5,
        "conversions": 1,
        "revenue_fen": 990,
    }
    assert "partner_42_x" not in KNOWN_CHANNELS and len(KNOWN_CHANNELS) == 8


def test_experiments_compare_each_variant_with_the_first() -> None:
    day = {
        "n|join|-|A": 200,
        "n|activated|-|A": 40,
        "n|converted|-|A": 10,
        "n|join|sms|B": 150,
        "n|join|-|B": 50,
        "n|activated|-|B": 60,
        "n|converted|-|B": 20,
        "n|join|-|C": 50,
        "n|converted|-|C": 70,
        "n|join|-|-": 999,
    }
    ex = _report({DAY: day}, variants=["A", "B", "C"])["experiments"]
    assert ex["min_sample"] == MIN_SAMPLE == 100
    assert ex["variants"][1] == {
        "variant": "B",
        "participants": 200,
        "activated": 60,
        "activation_rate": 0.3,
        "converted": 20,
        "conversion_rate": 0.1,
    }
    b, c = ex["comparisons"]
    assert (b["variant"], b["baseline"], b["warning"]) == ("B", "A", None)
    assert b["activation_test"] == two_proportion_z_test(40, 200, 60, 200).as_dict()
    assert b["conversion_test"] == two_proportion_z_test(10, 200, 20, 200).as_dict()
    assert c["warning"] == SAMPLE_WARNING
    assert ex["variants"][2]["conversion_rate"] == 1.4
    assert c["conversion_test"] == two_proportion_z_test(10, 200, 50, 50).as_dict()  # capped at participants
    assert _report({DAY: day}, variants=[])["experiments"] == {"min_sample": 100, "variants": [], "comparisons": []}


def test_experiments_with_one_variant_have_no_comparison() -> None:
    ex = _report({DAY: {"n|join|-|A": 3}}, variants=["A"])["experiments"]
    assert ex["comparisons"] == [] and ex["variants"][0]["activation_rate"] == 0.0


def test_top_inviters_pass_through() -> None:
    board = [{"code": "abc", "nickname": "A", "score": 3}]
    assert _report({DAY: {}}, top_inviters=board)["top_inviters"] == board


# --- forecast ------------------------------------------------------------------------------


def test_generations_sum_with_a_fractional_last_generation() -> None:
    assert generations_sum(0.5, 2.5) == 0.5 + 0.25 + 0.5 * 0.125
    assert generations_sum(2.0, 1.5) == 2 + 0.5 * 4
    assert generations_sum(1.0, 2.5) == 2.5
    assert generations_sum(0.5, 0.25) == 0.25 * 0.5
    assert generations_sum(0.0, 3) == 0.0 and generations_sum(2.0, 0) == 0.0
    assert abs(generations_sum(1 + 1e-12, 10) - 10) < 1e-9
    assert abs(generations_sum(1.1, 3) - (1.1 + 1.1**2 + 1.1**3)) < 1e-12
    assert generations_sum(3.0, 10_000) == math.inf


def _forecast_days() -> dict[date, dict[str, int]]:
    return {
        DAY - timedelta(days=2): {"n|join|-|-": 52},
        DAY - timedelta(days=1): {"n|join|-|-": 36},
        DAY: {
            "n|join|-|-": 12,
            "n|qualified|-|-": 50,
            "h|cycle|840": 50,
            "n|offspring_sq|-|-": 75,
            "n|reward_cost_fen|-|-": 3000,
            "n|commission_fen|-|-": 1000,
        },
    }


def test_forecast_on_a_hand_computed_case() -> None:
    # K = 50/100; s^2 = 75/100 - 0.25 = 0.5; T = 840 min, so the window starts yesterday 22:00:
    # frontier = 36 x 120/1440 + 12 (today, midnight to noon, all inside) = 15.
    # g = 2100 / 840 = 2.5 -> sum = 0.5 + 0.25 + 0.5 x 0.125 = 0.8125.
    f = _report(_forecast_days(), ends_at=NOW + timedelta(minutes=2100), budget_fen=4400)["forecast"]
    half = 1.96 * math.sqrt(0.5 / 100)
    k_low, k_high = 0.5 - half, 0.5 + half

    def total(k: float) -> float:
        return 100 + 15 * (k + k**2 + 0.5 * k**3)

    assert f["available"] is True and f["model"] == "galton-watson"
    assert f["k"] == 0.5 and abs(f["k_low"] - k_low) < 1e-12 and abs(f["k_high"] - k_high) < 1e-12
    assert f["cycle_time_minutes"] == 840 and f["generations_left"] == 2.5
    assert abs(f["frontier"] - 15) < 1e-9
    assert f["participants_so_far"] == 100 and f["spend_so_far_fen"] == 4000
    assert f["projected_participants"] == {"expected": 112, "low": round(total(k_low)), "high": round(total(k_high))}
    assert f["projected_spend_fen"] == {
        "expected": round(40 * 112.1875),
        "low": round(40 * total(k_low)),
        "high": round(40 * total(k_high)),
    }
    assert f["budget_fen"] == 4400 and f["over_budget"] is True and f["saturated"] is False
    g = _report(_forecast_days(), ends_at=NOW + timedelta(minutes=2100), budget_fen=5000)["forecast"]
    assert g["over_budget"] is False
    assert _report(_forecast_days(), ends_at=NOW + timedelta(minutes=2100))["forecast"]["over_budget"] is None


def test_forecast_low_k_is_floored_at_zero_and_runaway_growth_saturates() -> None:
    days = _forecast_days()
    days[DAY] = {**days[DAY], "n|offspring_sq|-|-": 100_000}
    f = _report(days, ends_at=NOW + timedelta(minutes=2100))["forecast"]
    assert f["k_low"] == 0.0 and f["projected_participants"]["low"] == 100
    days[DAY] = {**days[DAY], "n|qualified|-|-": 300, "h|cycle|1": 300}
    f = _report(days, ends_at=NOW + timedelta(days=365))["forecast"]
    assert f["saturated"] is True and f["projected_participants"]["expected"] == 10**12
    json.dumps(f, allow_nan=False)


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"ends_at": NOW}, "campaign_ended"),
        ({"ends_at": NOW - timedelta(days=1)}, "campaign_ended"),
        ({"ends_at": None}, "no_end_date"),
        ({"end": DAY - timedelta(days=1)}, "range_not_current"),
    ],
)
def test_no_forecast_when_over_undated_or_not_current(kw: dict[str, Any], reason: str) -> None:
    assert _report(_forecast_days(), **kw)["forecast"] == {
        "model": "galton-watson",
        "available": False,
        "reason": reason,
    }


def test_no_forecast_from_a_handful_of_people() -> None:
    few = {DAY: {"n|join|-|-": 29, "n|qualified|-|-": 10, "h|cycle|0": 10}}
    assert _report(few, ends_at=NOW + timedelta(days=30))["forecast"]["reason"] == "too_few_participants"
    rare = {DAY: {"n|join|-|-": 200, "n|qualified|-|-": 4, "h|cycle|60": 4}}
    assert _report(rare, ends_at=NOW + timedelta(days=30))["forecast"]["reason"] == "too_few_participants"


def test_no_forecast_before_the_first_qualified_invitee() -> None:
    r = _report({DAY: {"n|join|-|-": 10}})
    assert r["forecast"] == {"model": "galton-watson", "available": False, "reason": "no_qualified_invitee"}
    assert _report({})["forecast"]["reason"] == "no_qualified_invitee"
