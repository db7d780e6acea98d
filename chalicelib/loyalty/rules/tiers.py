"""Membership tiers (会员等级): the ladder, the measure over a rolling window, upgrades at once and downgrades after
a grace period, the points multiplier (pure, no I/O; docs/retention.md).

A tenant's ladder orders its tiers by threshold on one measure (points earned, paid spend in fen or qualified
invites) summed over the last `window_days`. A fact that lifts the measure past a higher threshold upgrades at
once (`on_fact`); falling below the held tier's threshold only starts the grace period, and the daily review
(`review`) moves the person down once it is over. Both are functions of the stored standing and the measure, so
applying them again to the same inputs changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.core.clock import iso, parse_iso

TIER_ID_PATTERN = r"^[a-z0-9_]{1,32}$"
MAX_TIERS = 10
MAX_WINDOW_DAYS = 730
MAX_GRACE_DAYS = 365
MAX_MULTIPLIER = 10
Measure = Literal["points_earned", "spend_fen", "qualified_invites"]
# A multiplier is kept in hundredths (x1.2 is 120), so crediting is integer arithmetic.
ONE = 100


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TierSpec(_Strict):
    id: str = Field(pattern=TIER_ID_PATTERN, description="Stable id: campaigns' `min_tier` and segments name it.")
    name: str = Field(min_length=1, max_length=40)
    threshold: int = Field(ge=0, le=10**12, description="The measure over the window that reaches this tier.")
    multiplier: float = Field(
        default=1.0, ge=1, le=MAX_MULTIPLIER, description="Points rewards are credited times this (2 decimals)."
    )

    @field_validator("multiplier")
    @classmethod
    def _hundredths(cls, value: float) -> float:
        if Decimal(str(value)).as_tuple().exponent < -2:  # type: ignore[operator]
            raise ValueError("a multiplier has at most 2 decimals, e.g. 1.25")
        return value

    @property
    def multiplier_pct(self) -> int:
        """The multiplier in hundredths, exactly (1.2 -> 120)."""
        return int(Decimal(str(self.multiplier)) * ONE)


class TierRules(_Strict):
    """The tenant's ladder, replaced whole by `PUT /v1/admin/loyalty/tiers`; no tiers switches tiers off."""

    measure: Measure = "points_earned"
    window_days: int = Field(default=365, ge=1, le=MAX_WINDOW_DAYS)
    grace_days: int = Field(default=30, ge=0, le=MAX_GRACE_DAYS)
    tiers: list[TierSpec] = Field(default_factory=list, max_length=MAX_TIERS)

    @model_validator(mode="after")
    def _ladder(self) -> TierRules:
        ids = [t.id for t in self.tiers]
        if len(set(ids)) != len(ids):
            raise ValueError("tier ids must be unique")
        thresholds = [t.threshold for t in self.tiers]
        if any(b <= a for a, b in zip(thresholds, thresholds[1:], strict=False)):
            raise ValueError("tiers go from the lowest up: each threshold above the one before")
        return self

    def rank(self, tier: str | None) -> int:
        """1 for the lowest tier, 0 for none or a tier the ladder no longer has."""
        for i, spec in enumerate(self.tiers):
            if spec.id == tier:
                return i + 1
        return 0

    def spec(self, tier: str | None) -> TierSpec | None:
        rank = self.rank(tier)
        return self.tiers[rank - 1] if rank else None

    def earned(self, value: int) -> TierSpec | None:
        """The highest tier whose threshold the measure reaches."""
        reached = [t for t in self.tiers if value >= t.threshold]
        return reached[-1] if reached else None

    def at_least(self, tier: str | None) -> list[str]:
        """The tier and every tier below it: what a campaign's `min_tier` is checked against."""
        return [t.id for t in self.tiers[: self.rank(tier)]]


@dataclass(frozen=True)
class Fact:
    """Something the measure counts: `amount` at `at` (an ISO time)."""

    at: str
    amount: int


def window_start(now: datetime, days: int) -> str:
    return iso(now - timedelta(days=days))


def window_sum(facts: Iterable[Fact], now: datetime, days: int) -> int:
    """The measure: facts in (now - days, now]; later facts are not counted yet, older ones no more."""
    start, end = window_start(now, days), iso(now)
    return sum(f.amount for f in facts if start < f.at <= end)


@dataclass(frozen=True)
class Standing:
    """What is stored of a person's tier: the tier held, and since when the measure is below its threshold."""

    tier: str | None = None
    below_since: str | None = None


def on_fact(rules: TierRules, standing: Standing, value: int) -> Standing:
    """After a fact from the stream: up at once when the measure reaches a higher tier; never down. A measure back
    at the held tier's threshold ends a grace period."""
    held = rules.rank(standing.tier)
    earned = rules.earned(value)
    if earned is not None and rules.rank(earned.id) > held:
        return Standing(earned.id, None)
    held_spec = rules.spec(standing.tier)
    if held_spec is not None and value >= held_spec.threshold:
        return Standing(standing.tier, None)
    return standing


def grace_deadline(rules: TierRules, below_since: str) -> str:
    return iso(parse_iso(below_since) + timedelta(days=rules.grace_days))


def review(rules: TierRules, standing: Standing, value: int, now: datetime) -> Standing:
    """The daily review: up when the measure earns more (a ladder lowered since), down to the tier the measure
    earns once it has stayed below the held tier's threshold for `grace_days`; a tier the ladder no longer has is
    replaced at once by the one earned."""
    earned = rules.earned(value)
    to = earned.id if earned else None
    held = rules.rank(standing.tier)
    if standing.tier is not None and held == 0:
        return Standing(to, None)
    if rules.rank(to) >= held:
        return Standing(to if rules.rank(to) > held else standing.tier, None)
    below = standing.below_since or iso(now)
    if iso(now) >= grace_deadline(rules, below):
        return Standing(to, None)
    return Standing(standing.tier, below)


def multiply(points: int, multiplier_pct: int) -> int:
    """Points credited under a multiplier in hundredths, rounded down to a whole point: 15 x1.25 is 18."""
    return points * multiplier_pct // ONE


def multiplier_text(multiplier_pct: int) -> str:
    """x1.2, x1.25, x2 as a person reads it."""
    return "x" + format(Decimal(multiplier_pct) / ONE, "f").rstrip("0").rstrip(".")


def progress(rules: TierRules, standing: Standing, value: int, now: datetime) -> dict[str, Any]:
    """The person's view: the tier held, the measure, the next tier and how far it is, and when a tier held
    below its threshold is lost (the grace deadline)."""
    held = rules.spec(standing.tier)
    above = rules.tiers[rules.rank(standing.tier) :] if held else [t for t in rules.tiers if t.threshold > value]
    nxt = next((t for t in above if t.threshold > value), None)
    below = held is not None and value < held.threshold
    deadline = grace_deadline(rules, standing.below_since or iso(now)) if below else None
    return {
        "tier": _tier_view(held) if held else None,
        "measure": rules.measure,
        "window_days": rules.window_days,
        "value": value,
        "next": {**_tier_view(nxt), "distance": nxt.threshold - value} if nxt else None,
        "below_threshold": below,
        "grace_deadline": deadline,
    }


def _tier_view(spec: TierSpec) -> dict[str, Any]:
    return {"id": spec.id, "name": spec.name, "threshold": spec.threshold, "multiplier": spec.multiplier}
