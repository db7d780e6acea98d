"""Distribution commission maths: rounding, levels, the two-level cap, self-purchase."""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.campaigns.rules.spec import DistributionRules
from chalicelib.modes.distribution.rules.commission import (
    Share,
    attribute,
    available_at,
    balance,
    binding_active,
    shares,
)
from chalicelib.modes.distribution.rules.records import LedgerEntry


def rules(levels: int = 2, rates: list[int] | None = None, **kw: object) -> DistributionRules:
    return DistributionRules.model_validate({"levels": levels, "rates_bp": rates or [1000, 300], **kw})


def test_two_levels_exact() -> None:
    assert shares(rules(), 10_000, "buyer", ["a", "b"]) == [Share(1, "a", 1000), Share(2, "b", 300)]


def test_one_level_ignores_the_inviter() -> None:
    assert shares(rules(1, [1000]), 10_000, "buyer", ["a", "b"]) == [Share(1, "a", 1000)]


def test_rounds_down_to_whole_fen() -> None:
    assert shares(rules(), 999, "buyer", ["a", "b"]) == [Share(1, "a", 99), Share(2, "b", 29)]
    assert shares(rules(), 3, "buyer", ["a", "b"]) == []


def test_never_deeper_than_two_levels() -> None:
    assert [s.level for s in shares(rules(), 10_000, "buyer", ["a", "b", "c", "d"])] == [1, 2]


def test_self_purchase_earns_nothing() -> None:
    assert shares(rules(), 10_000, "a", ["a", "b"]) == [Share(2, "b", 300)]
    assert shares(rules(), 10_000, "b", ["a", "b"]) == [Share(1, "a", 1000)]
    assert shares(rules(), 10_000, "a", ["b", "b"]) == [Share(1, "b", 1000)]


def test_attribution_binding() -> None:
    assert attribute("me", "ref", "bound", "last_click") == "ref"
    assert attribute("me", "ref", "bound", "first_click") == "bound"
    assert attribute("me", "ref", None, "first_click") == "ref"
    assert attribute("me", "me", "bound", "last_click") == "bound"
    assert attribute("me", None, None, "last_click") is None


def test_frozen_period() -> None:
    paid = datetime(2026, 1, 1, tzinfo=UTC)
    assert available_at(paid, rules(frozen_days=7)) == datetime(2026, 1, 8, tzinfo=UTC)


def test_balance_by_state() -> None:
    rows = [
        LedgerEntry(key="LEDGER#o1#1", amount_fen=1000, available_at="2026-01-08T00:00:00Z"),
        LedgerEntry(key="LEDGER#o2#1", amount_fen=500, available_at="2026-01-01T00:00:00Z"),
        LedgerEntry(key="LEDGER#o3#2", amount_fen=300, available_at="2026-01-01T00:00:00Z"),
        LedgerEntry(key="LEDGER#o3#2#CLAWBACK", amount_fen=-300, available_at="2026-01-01T00:00:00Z"),
    ]
    assert balance(rows, "2026-01-05T00:00:00Z") == {"pending_fen": 1000, "available_fen": 500, "clawed_back_fen": 300}


def test_binding_window() -> None:
    joined = datetime(2026, 1, 1, tzinfo=UTC)
    assert binding_active(joined, datetime(2026, 1, 31, tzinfo=UTC), rules(binding_window_days=30))
    assert not binding_active(joined, datetime(2026, 1, 31, 0, 1, tzinfo=UTC), rules(binding_window_days=30))
