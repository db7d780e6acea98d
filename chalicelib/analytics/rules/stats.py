"""The stats report: day counters in, dashboard figures out (pure, no I/O, no clock reads).

The stream handler sums facts into `n|{metric}|{channel}|{variant}` and `h|{name}|{bucket}`
counters per campaign day (docs/analytics.md); everything here is arithmetic over those sums,
so the read costs the same however many events a campaign had. `now` is always a parameter.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any, Literal

from chalicelib.core.codes import Code
from chalicelib.core.errors import ValidationFailed

Granularity = Literal["day", "week", "total"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "week", "total")
_GRANULARITY: dict[str, Granularity] = {g: g for g in GRANULARITIES}

KNOWN_CHANNELS: tuple[str, ...] = (
    "wechat_moments",
    "wechat_group",
    "wechat_friend",
    "douyin",
    "xiaohongshu",
    "sms",
    "qr_offline",
    "link",
)

METRICS: tuple[str, ...] = (
    "view",
    "share",
    "ui_click",
    "custom",
    "click",
    "join",
    "invited_join",
    "qualified",
    "activated",
    "offspring_sq",
    "converted",
    "revenue_fen",
    "attributed_revenue_fen",
    "refunds",
    "refunded_fen",
    "rewards",
    "reward_cost_fen",
    "commission_fen",
)
DQ_INVALID, DQ_DROPPED = "dq_invalid_event", "dq_dropped"
FUNNEL_STEPS: tuple[str, ...] = ("view", "join", "share", "click", "qualified", "converted")
SERIES_METRICS: tuple[str, ...] = (*FUNNEL_STEPS, "revenue_fen", "reward_cost_fen")

MAX_RANGE_DAYS = 366
MIN_SAMPLE = 100
SAMPLE_WARNING = "minimum sample not reached"
Z_CRIT_95 = 1.959963984540054  # Phi^-1(0.975)
FORECAST_Z = 1.96  # the doc's K +/- 1.96 s / sqrt(n)
# Projections beyond this are reported as saturated: a K above 1 over many generations grows
# without bound, and the figure must stay a finite JSON number.
MAX_PROJECTION = 10**12
# Below these, K and the cycle time rest on a handful of people and the projection's range spans
# orders of magnitude: no forecast rather than a misleading one.
FORECAST_MIN_JOINS = 30
FORECAST_MIN_QUALIFIED = 5

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DEPTH = re.compile(r"^depth:([0-9]+)$")
_BUCKET = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class Counter:
    """One parsed counter attribute name; `channel`/`variant` are None for `-`."""

    kind: Literal["n", "h"]
    metric: str
    channel: str | None = None
    variant: str | None = None
    bucket: int | None = None

    @property
    def depth(self) -> int | None:
        """The generation of a `depth:{d}` counter, else None."""
        m = _DEPTH.match(self.metric)
        return int(m.group(1)) if m else None


@lru_cache(maxsize=4096)
def parse_counter(name: str) -> Counter | None:
    """Parse a counter attribute name; None for anything malformed (other item attributes too).

    Names are split on `|` only, so channels and variants may hold any other character.
    """
    parts = name.split("|")
    if any(p == "" or p != p.strip() for p in parts):
        return None
    if parts[0] == "n" and len(parts) == 4:
        _, metric, channel, variant = parts
        if metric.startswith("depth:") and not _DEPTH.match(metric):
            return None
        return Counter("n", metric, None if channel == "-" else channel, None if variant == "-" else variant, None)
    if parts[0] == "h" and len(parts) == 3 and _BUCKET.match(parts[2]):
        return Counter("h", parts[1], None, None, int(parts[2]))
    return None


def totals(days: Iterable[Mapping[str, int]]) -> dict[str, int]:
    """Sum well-formed counters over days, by attribute name; malformed names are dropped."""
    out: dict[str, int] = defaultdict(int)
    for day in days:
        for name, value in day.items():
            if parse_counter(name) is not None:
                out[name] += int(value)
    return dict(out)


def _parsed(counts: Mapping[str, int]) -> Iterable[tuple[Counter, int]]:
    for name, value in counts.items():
        c = parse_counter(name)
        if c is not None:
            yield c, int(value)


def sum_metric(counts: Mapping[str, int], metric: str) -> int:
    """One metric over every channel and variant."""
    return sum(v for c, v in _parsed(counts) if c.kind == "n" and c.metric == metric)


def by_metric(counts: Mapping[str, int]) -> dict[str, int]:
    """Every `n` metric (generations and data-quality counters included) over channels and variants."""
    out: dict[str, int] = defaultdict(int)
    for c, v in _parsed(counts):
        if c.kind == "n":
            out[c.metric] += v
    return dict(out)


def by_channel(counts: Mapping[str, int], metric: str) -> dict[str | None, int]:
    """One metric per channel (None = direct/unknown), over variants."""
    out: dict[str | None, int] = defaultdict(int)
    for c, v in _parsed(counts):
        if c.kind == "n" and c.metric == metric:
            out[c.channel] += v
    return dict(out)


def by_variant(counts: Mapping[str, int], metric: str) -> dict[str | None, int]:
    """One metric per experiment variant (None = no variant), over channels."""
    out: dict[str | None, int] = defaultdict(int)
    for c, v in _parsed(counts):
        if c.kind == "n" and c.metric == metric:
            out[c.variant] += v
    return dict(out)


def histogram(counts: Mapping[str, int], name: str) -> dict[int, int]:
    """Bucket -> count of histogram `name`."""
    out: dict[int, int] = defaultdict(int)
    for c, v in _parsed(counts):
        if c.kind == "h" and c.metric == name and c.bucket is not None:
            out[c.bucket] += v
    return dict(out)


# --- range ---------------------------------------------------------------------------------


def _parse_date(field: str, value: str) -> date:
    try:
        if not _DATE.match(value):
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(
            f"{field} must be a date as YYYY-MM-DD, got {value!r}",
            code=Code.INVALID_RANGE,
            details={"field": field, "value": value, "expected": "YYYY-MM-DD"},
        ) from None


def validate_range(
    from_: str | None,
    to: str | None,
    granularity: str | None,
    today: date,
    default_days: int = 30,
) -> tuple[date, date, Granularity]:
    """Check the stats query; defaults: `to` = today, `from` = `to` - (default_days - 1), day.

    Both ends are inclusive, so a range counts `to - from + 1` days, at most 366 (a leap year).
    An absent or empty parameter takes its default; anything else must be exact (lower-case
    granularity, zero-padded ISO dates).
    """
    gran = _GRANULARITY.get(granularity or "day")
    if gran is None:
        raise ValidationFailed(
            f"granularity must be one of day, week, total, got {granularity!r}",
            code=Code.INVALID_GRANULARITY,
            details={"field": "granularity", "value": granularity, "allowed": list(GRANULARITIES)},
        )
    end = _parse_date("to", to) if to else today
    start = _parse_date("from", from_) if from_ else end - timedelta(days=default_days - 1)
    if start > end:
        raise ValidationFailed(
            f"from ({start.isoformat()}) is after to ({end.isoformat()})",
            code=Code.INVALID_RANGE,
            details={"from": start.isoformat(), "to": end.isoformat()},
        )
    days = (end - start).days + 1
    if days > MAX_RANGE_DAYS:
        raise ValidationFailed(
            f"the range spans {days} days, at most {MAX_RANGE_DAYS} are allowed",
            code=Code.INVALID_RANGE,
            details={"from": start.isoformat(), "to": end.isoformat(), "days": days, "max_days": MAX_RANGE_DAYS},
        )
    return start, end, gran


# --- statistics ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ZTest:
    """Two-proportion test of arm 2 against arm 1.

    `z` uses the pooled standard error (the test under H0: p1 = p2), the interval the unpooled
    one (the spread of the difference itself); either is None when its error is 0 or an arm is empty.
    """

    p1: float | None
    p2: float | None
    diff: float | None
    z: float | None
    p_value: float | None
    ci_low: float | None
    ci_high: float | None

    def as_dict(self) -> dict[str, float | None]:
        return asdict(self)


def two_proportion_z_test(x1: int, n1: int, x2: int, n2: int) -> ZTest:
    """Pooled z, two-sided p-value (`erfc`, exact in the tails) and 95 % Wald interval of p2 - p1."""
    for x, n in ((x1, n1), (x2, n2)):
        if n < 0 or x < 0 or x > n:
            raise ValueError(f"need 0 <= x <= n, got x={x}, n={n}")
    p1 = x1 / n1 if n1 else None
    p2 = x2 / n2 if n2 else None
    if p1 is None or p2 is None:
        return ZTest(p1, p2, None, None, None, None, None)
    diff = p2 - p1
    pooled = (x1 + x2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    z = p_value = None
    if se0 > 0.0:
        z = diff / se0
        p_value = math.erfc(abs(z) / math.sqrt(2.0))
    se = math.sqrt(p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2)
    ci_low = ci_high = None
    if se > 0.0:
        ci_low, ci_high = diff - Z_CRIT_95 * se, diff + Z_CRIT_95 * se
    return ZTest(p1, p2, diff, z, p_value, ci_low, ci_high)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def percentile(hist: Mapping[int, int], pct: int) -> int | None:
    """Nearest rank: the smallest bucket whose cumulative count reaches `pct` % of the total.

    Integer arithmetic (rank = ceil(pct * total / 100)), so 50 % of 4 samples is the 2nd.
    Buckets with a non-positive count are ignored.
    """
    items = sorted((b, c) for b, c in hist.items() if c > 0)
    total = sum(c for _, c in items)
    if total == 0:
        return None
    rank = max(1, -(-pct * total // 100))
    cum = 0
    for bucket, count in items:
        cum += count
        if cum >= rank:
            return bucket
    return items[-1][0]  # pragma: no cover - cum reaches total >= rank


# --- report --------------------------------------------------------------------------------


def _days_in(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def _buckets(start: date, end: date, granularity: Granularity) -> list[tuple[str, date, date]]:
    """(label, first day, last day) per series bucket, clipped to the range.

    Weeks are ISO weeks (Monday first) labelled by ISO year, so 2025-12-29 opens `2026-W01`.
    """
    if granularity == "total":
        return [("total", start, end)]
    if granularity == "day":
        return [(d.isoformat(), d, d) for d in _days_in(start, end)]
    out: list[tuple[str, date, date]] = []
    monday = start - timedelta(days=start.weekday())
    while monday <= end:
        year, week, _ = monday.isocalendar()
        out.append((f"{year}-W{week:02d}", max(monday, start), min(monday + timedelta(days=6), end)))
        monday += timedelta(days=7)
    return out


def _series(
    per_day: Mapping[date, Mapping[str, int]], start: date, end: date, granularity: Granularity
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for label, first, last in _buckets(start, end, granularity):
        sums = dict.fromkeys(SERIES_METRICS, 0)
        for d in _days_in(first, last):
            metrics = per_day.get(d, {})
            for m in SERIES_METRICS:
                sums[m] += metrics.get(m, 0)
        rows.append({"period": label, "start": first.isoformat(), "end": last.isoformat(), **sums})
    return rows


def _funnel(metric: Mapping[str, int]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    previous: int | None = None
    for step in FUNNEL_STEPS:
        count = metric.get(step, 0)
        steps.append({"step": step, "count": count, "rate": _ratio(count, previous) if previous is not None else None})
        previous = count
    return steps


def _channels(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """Rows for every channel with any non-zero `n` counter (None = direct/unknown)."""
    seen: set[str | None] = set()
    cols = {"shares": "share", "clicks": "click", "joins": "join", "conversions": "converted"}
    values: dict[str, dict[str | None, int]] = {col: by_channel(counts, m) for col, m in cols.items()}
    revenue = by_channel(counts, "revenue_fen")
    for c, v in _parsed(counts):
        if c.kind == "n" and v and c.depth is None and not c.metric.startswith("dq_"):
            seen.add(c.channel)
    # Most joins first; ties by name, direct/unknown after named channels.
    order = sorted(seen, key=lambda ch: (-values["joins"].get(ch, 0), ch is None, ch or ""))
    rows = [
        {
            "channel": ch,
            "known": ch in KNOWN_CHANNELS,
            **{col: values[col].get(ch, 0) for col in cols},
            "revenue_fen": revenue.get(ch, 0),
        }
        for ch in order
    ]
    return rows


def _k_factor(metric: Mapping[str, int]) -> dict[str, float | None]:
    """`k_sent` is invited joins per participant directly: the doc's product when shares > 0, and
    still defined when invitees arrived without a counted share (a scanned poster)."""
    joins, shares = metric.get("join", 0), metric.get("share", 0)
    return {
        "invites_per_participant": _ratio(shares, joins),
        "invite_conversion": _ratio(metric.get("invited_join", 0), shares),
        "k_sent": _ratio(metric.get("invited_join", 0), joins),
        "k_realised": _ratio(metric.get("qualified", 0), joins),
    }


def _generations(metric: Mapping[str, int]) -> list[dict[str, int]]:
    depths: dict[int, int] = defaultdict(int)
    for name, value in metric.items():
        m = _DEPTH.match(name)
        if m:
            depths[int(m.group(1))] += value
    return [{"depth": d, "participants": n} for d, n in sorted(depths.items()) if n]


def _roi(metric: Mapping[str, int]) -> dict[str, Any]:
    """Revenue counters are net of refunds (refunds are reported beside them); `roi` is None while the cost
    is 0 or below (revocations outweighing issues), where a return ratio means nothing."""
    cost = metric.get("reward_cost_fen", 0) + metric.get("commission_fen", 0)
    attributed = metric.get("attributed_revenue_fen", 0)
    return {
        "cost_fen": cost,
        "attributed_revenue_fen": attributed,
        "revenue_fen": metric.get("revenue_fen", 0),
        "refunded_fen": metric.get("refunded_fen", 0),
        "roi": (attributed - cost) / cost if cost > 0 else None,
        "cost_per_qualified_fen": _ratio(cost, metric.get("qualified", 0)),
    }


def _experiments(counts: Mapping[str, int], variants: list[str]) -> dict[str, Any]:
    """Arms in the campaign's order (the first is the baseline); variants not listed are left out."""
    joins = by_variant(counts, "join")
    activated = by_variant(counts, "activated")
    converted = by_variant(counts, "converted")
    # (variant, participants, activated, converted)
    arms = [(v, joins.get(v, 0), activated.get(v, 0), converted.get(v, 0)) for v in variants]
    rows = [
        {
            "variant": v,
            "participants": n,
            "activated": a,
            "activation_rate": _ratio(a, n),
            "converted": c,
            "conversion_rate": _ratio(c, n),
        }
        for v, n, a, c in arms
    ]
    comparisons: list[dict[str, Any]] = []
    if arms:
        base, n1, a1, c1 = arms[0]
        for v, n2, a2, c2 in arms[1:]:
            # `converted` counts paid orders, which can exceed participants; the test needs a
            # proportion, so each arm's successes are capped at its participants.
            comparisons.append(
                {
                    "variant": v,
                    "baseline": base,
                    "activation_test": two_proportion_z_test(min(a1, n1), n1, min(a2, n2), n2).as_dict(),
                    "conversion_test": two_proportion_z_test(min(c1, n1), n1, min(c2, n2), n2).as_dict(),
                    "warning": SAMPLE_WARNING if min(n1, n2) < MIN_SAMPLE else None,
                }
            )
    return {"min_sample": MIN_SAMPLE, "variants": rows, "comparisons": comparisons}


def frontier(per_day: Mapping[date, Mapping[str, int]], now: datetime, minutes: float) -> float:
    """Joins in [now - T, now], from day counters.

    A day's joins are taken as spread evenly over the part of the day they can cover: the whole
    day, or midnight to `now` for today. Days wholly inside the window count in full; the one the
    window starts in is prorated by the covered share. `now` is in the campaign's time zone.
    """
    window_start = now - timedelta(minutes=minutes)
    total = 0.0
    for d, metrics in per_day.items():
        joins = metrics.get("join", 0)
        if not joins:
            continue
        day_start = datetime.combine(d, time(), tzinfo=now.tzinfo)
        covered_end = min(day_start + timedelta(days=1), now)
        span = (covered_end - day_start).total_seconds()
        overlap = (covered_end - max(day_start, window_start)).total_seconds()
        if span > 0 and overlap > 0:
            total += joins * min(1.0, overlap / span)
    return total


def generations_sum(k: float, g: float) -> float:
    """K + K^2 + ... + K^floor(g) + frac(g) K^(floor(g)+1); inf when it overflows."""
    if g <= 0 or k <= 0:
        return 0.0
    m = math.floor(g)
    f = g - m
    if k == 1.0:
        return m + f
    log_k = math.log(k)
    if (m + 1) * log_k > 700:
        return math.inf
    # expm1/log1p keep precision for K close to 1, where K^m - 1 and K - 1 both vanish.
    whole = k * math.expm1(m * math.log1p(k - 1.0)) / (k - 1.0)
    return whole + f * math.exp((m + 1) * log_k)


def _unavailable(reason: str) -> dict[str, Any]:
    return {"model": "galton-watson", "available": False, "reason": reason}


def _forecast(
    per_day: Mapping[date, Mapping[str, int]],
    metric: Mapping[str, int],
    cycle_minutes: int | None,
    *,
    end: date,
    now: datetime,
    ends_at: datetime | None,
    budget_fen: int | None,
) -> dict[str, Any]:
    """The branching-process projection, or why there is none.

    Figures come from the range, so the projected total is the range's joins plus the frontier's
    descendants: meant for a range from the campaign's start to today, and a range ending before
    today has no forecast (its frontier would miss today's joins).
    """
    if ends_at is None:
        return _unavailable("no_end_date")
    if ends_at <= now:
        return _unavailable("campaign_ended")
    if end < now.date():
        return _unavailable("range_not_current")
    joins = metric.get("join", 0)
    if joins <= 0 or metric.get("qualified", 0) <= 0 or cycle_minutes is None:
        return _unavailable("no_qualified_invitee")
    if joins < FORECAST_MIN_JOINS or metric["qualified"] < FORECAST_MIN_QUALIFIED:
        return _unavailable("too_few_participants")
    k = metric["qualified"] / joins
    t = max(1, cycle_minutes)  # a median of 0 whole minutes would make every moment a generation
    variance = max(0.0, metric.get("offspring_sq", 0) / joins - k * k)
    half = FORECAST_Z * math.sqrt(variance / joins)
    k_low, k_high = max(0.0, k - half), k + half
    g = (ends_at - now).total_seconds() / 60.0 / t
    front = frontier(per_day, now, t)
    cost = metric.get("reward_cost_fen", 0) + metric.get("commission_fen", 0)
    per_participant = cost / joins
    saturated = False

    def project(kk: float) -> tuple[int, int]:
        nonlocal saturated
        total = joins + front * generations_sum(kk, g)
        if not math.isfinite(total) or total > MAX_PROJECTION:
            saturated, total = True, float(MAX_PROJECTION)
        return round(total), round(per_participant * total)

    (p_exp, s_exp), (p_low, s_low), (p_high, s_high) = project(k), project(k_low), project(k_high)
    return {
        "model": "galton-watson",
        "available": True,
        "k": k,
        "k_low": k_low,
        "k_high": k_high,
        "cycle_time_minutes": t,
        "generations_left": g,
        "frontier": front,
        "participants_so_far": joins,
        "spend_so_far_fen": cost,
        "projected_participants": {"expected": p_exp, "low": p_low, "high": p_high},
        "projected_spend_fen": {"expected": s_exp, "low": s_low, "high": s_high},
        "budget_fen": budget_fen,
        "over_budget": s_exp > budget_fen if budget_fen is not None else None,
        "saturated": saturated,
    }


def report(
    days: Mapping[date, Mapping[str, int]],
    *,
    start: date,
    end: date,
    granularity: Granularity,
    now: datetime,
    ends_at: datetime | None,
    budget_fen: int | None,
    variants: list[str],
    top_inviters: list[dict[str, Any]],
) -> dict[str, Any]:
    """The stats report of the days in [start, end] (days outside are ignored, missing ones are 0).

    `now` and `ends_at` are aware datetimes; `now` is read in the campaign's time zone, the one
    its days are cut in, to place the forecast's frontier window.
    """
    in_range = {d: c for d, c in days.items() if start <= d <= end}
    per_day = {d: by_metric(c) for d, c in in_range.items()}
    counts = totals(in_range.values())
    metric = by_metric(counts)
    cycle = histogram(counts, "cycle")
    median, p90 = percentile(cycle, 50), percentile(cycle, 90)
    known = {m: metric.get(m, 0) for m in METRICS}
    extra = {
        m: v for m, v in sorted(metric.items()) if m not in known and not m.startswith("dq_") and not _DEPTH.match(m)
    }
    return {
        "range": {"from": start.isoformat(), "to": end.isoformat(), "granularity": granularity},
        "totals": {**known, **extra},
        "funnel": _funnel(metric),
        "series": _series(per_day, start, end, granularity),
        "channels": _channels(counts),
        "k_factor": _k_factor(metric),
        "generations": _generations(metric),
        "cycle_time_minutes": {"median": median, "p90": p90, "samples": sum(c for c in cycle.values() if c > 0)},
        "roi": _roi(metric),
        "experiments": _experiments(counts, variants),
        "forecast": _forecast(per_day, metric, median, end=end, now=now, ends_at=ends_at, budget_fen=budget_fen),
        "top_inviters": list(top_inviters),
        "data_quality": {"invalid_events": metric.get(DQ_INVALID, 0), "dropped": metric.get(DQ_DROPPED, 0)},
    }
