"""Tier rules: the ladder, window sums, up at once, down only after the grace period, the multiplier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from chalicelib.core.clock import iso
from chalicelib.loyalty.rules.tiers import (
    Fact,
    Standing,
    TierRules,
    multiplier_text,
    multiply,
    on_fact,
    progress,
    review,
    window_sum,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _rules(**overrides: object) -> TierRules:
    body = {
        "measure": "points_earned",
        "window_days": 30,
        "grace_days": 7,
        "tiers": [
            {"id": "silver", "name": "Silver", "threshold": 100},
            {"id": "gold", "name": "Gold", "threshold": 500, "multiplier": 1.2},
            {"id": "black", "name": "Black", "threshold": 2000, "multiplier": 1.5},
        ],
        **overrides,
    }
    return TierRules.model_validate(body)


def test_the_ladder_goes_up_with_unique_ids_and_two_decimal_multipliers() -> None:
    with pytest.raises(ValidationError, match="each threshold above"):
        _rules(tiers=[{"id": "a", "name": "A", "threshold": 10}, {"id": "b", "name": "B", "threshold": 10}])
    with pytest.raises(ValidationError, match="unique"):
        _rules(tiers=[{"id": "a", "name": "A", "threshold": 1}, {"id": "a", "name": "B", "threshold": 2}])
    with pytest.raises(ValidationError, match="2 decimals"):
        _rules(tiers=[{"id": "a", "name": "A", "threshold": 1, "multiplier": 1.125}])
    with pytest.raises(ValidationError):
        _rules(tiers=[{"id": "a", "name": "A", "threshold": 1, "multiplier": 0.5}])
    rules = _rules()
    assert [t.multiplier_pct for t in rules.tiers] == [100, 120, 150]
    assert rules.rank("gold") == 2 and rules.rank("gone") == 0 and rules.rank(None) == 0
    assert rules.at_least("gold") == ["silver", "gold"] and rules.at_least(None) == []


def test_the_window_counts_facts_after_its_start_up_to_now() -> None:
    facts = [
        Fact(iso(NOW - timedelta(days=30)), 1000),  # at the start: out
        Fact(iso(NOW - timedelta(days=29, hours=23)), 10),
        Fact(iso(NOW), 5),
        Fact(iso(NOW + timedelta(seconds=1)), 7),  # not yet
    ]
    assert window_sum(facts, NOW, 30) == 15


def test_a_fact_upgrades_at_once_possibly_several_tiers_and_never_downgrades() -> None:
    rules = _rules()
    assert on_fact(rules, Standing(), 99) == Standing()
    assert on_fact(rules, Standing(), 600) == Standing("gold")
    assert on_fact(rules, Standing("silver"), 2500) == Standing("black")
    assert on_fact(rules, Standing("gold"), 0) == Standing("gold")
    below = Standing("gold", iso(NOW))
    assert on_fact(rules, below, 499) == below  # still below: the grace period goes on
    assert on_fact(rules, below, 500) == Standing("gold")  # back at the threshold: the grace period ends


def test_the_review_downgrades_only_after_the_grace_period() -> None:
    rules = _rules()
    first = review(rules, Standing("black"), 600, NOW)
    assert first == Standing("black", iso(NOW))
    six_days = review(rules, first, 600, NOW + timedelta(days=6, hours=23))
    assert six_days == first
    seven_days = review(rules, first, 600, NOW + timedelta(days=7))
    assert seven_days == Standing("gold")  # down to the tier the measure earns, one or several steps
    assert review(rules, Standing("silver", iso(NOW)), 0, NOW + timedelta(days=7)) == Standing(None)
    recovered = review(rules, first, 2000, NOW + timedelta(days=3))
    assert recovered == Standing("black")


def test_the_review_upgrades_and_replaces_a_tier_the_ladder_lost() -> None:
    rules = _rules()
    assert review(rules, Standing("silver"), 700, NOW) == Standing("gold")
    assert review(rules, Standing("platinum", iso(NOW)), 150, NOW) == Standing("silver")
    assert review(_rules(tiers=[]), Standing("gold"), 5000, NOW) == Standing(None)


def test_no_grace_downgrades_at_the_first_review_below() -> None:
    assert review(_rules(grace_days=0), Standing("gold"), 10, NOW) == Standing(None)


def test_reviewing_again_on_the_same_inputs_changes_nothing() -> None:
    rules = _rules()
    once = review(rules, Standing("gold"), 50, NOW)
    assert review(rules, once, 50, NOW) == once
    assert review(rules, once, 50, NOW + timedelta(hours=5)) == once  # the grace keeps its first day


def test_the_multiplier_is_integer_maths_rounded_down() -> None:
    assert multiply(100, 120) == 120
    assert multiply(15, 125) == 18  # 18.75 -> 18
    assert multiply(7, 150) == 10  # 10.5 -> 10
    assert multiply(100, 100) == 100
    assert [multiplier_text(p) for p in (100, 120, 125, 200)] == ["x1", "x1.2", "x1.25", "x2"]


def test_progress_names_the_next_tier_its_distance_and_the_grace_deadline() -> None:
    rules = _rules()
    view = progress(rules, Standing("gold"), 620, NOW)
    assert view["tier"]["id"] == "gold" and view["value"] == 620
    assert view["next"]["id"] == "black" and view["next"]["distance"] == 1380
    assert view["below_threshold"] is False and view["grace_deadline"] is None
    below = progress(rules, Standing("gold", iso(NOW - timedelta(days=2))), 300, NOW)
    assert below["below_threshold"] is True and below["grace_deadline"] == iso(NOW + timedelta(days=5))
    assert below["next"]["id"] == "black" and below["next"]["distance"] == 1700
    nothing = progress(rules, Standing(), 40, NOW)
    assert nothing["tier"] is None and nothing["next"]["id"] == "silver" and nothing["next"]["distance"] == 60
    top = progress(rules, Standing("black"), 2500, NOW)
    assert top["next"] is None
