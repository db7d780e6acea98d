"""Money-side fraud rules: the refund rate that holds a wallet, the destination key, the flags of a request."""

from __future__ import annotations

import pytest

from chalicelib.payouts.rules.policy import PayoutSettings
from chalicelib.payouts.rules.risk import (
    RefundRate,
    destination_key,
    flags_of,
    refund_hold,
    refund_rate,
    shared,
)
from chalicelib.payouts.rules.wallet import WalletEntry

pytestmark = pytest.mark.unit

AT = "2026-12-01T00:00:00Z"


def commission(oid: str, level: int = 1, amount: int = 100) -> WalletEntry:
    return WalletEntry(f"E#C#{oid}#{level}", amount, AT, available_at=AT, cid="c1", oid=oid, level=level)


def clawback(oid: str, level: int = 1, amount: int = 100) -> WalletEntry:
    return WalletEntry(f"E#C#{oid}#{level}#CLAWBACK", -amount, AT, available_at=AT, cid="c1", oid=oid, level=level)


def wallet(orders: int, refunded: int) -> list[WalletEntry]:
    rows = [commission(f"o{i}") for i in range(orders)]
    return rows + [clawback(f"o{i}") for i in range(refunded)]


def test_the_rate_counts_distinct_orders_and_those_clawed_back() -> None:
    rows = [*wallet(4, 1), commission("o0", level=2), WalletEntry("E#W#wd_1", -50, AT)]
    assert refund_rate(rows) == RefundRate(orders=4, refunded=1)
    assert refund_rate(rows).rate_bp == 2500
    assert refund_rate([]) == RefundRate(0, 0) and RefundRate(0, 0).rate_bp == 0


def test_a_clawback_without_its_commission_is_not_counted() -> None:
    assert refund_rate([commission("o1"), clawback("o2")]) == RefundRate(orders=1, refunded=0)


@pytest.mark.parametrize(
    ("orders", "refunded", "held"),
    [(5, 2, True), (10, 3, False), (10, 4, True), (4, 4, False), (5, 1, False), (0, 0, False)],
)
def test_a_wallet_is_held_above_the_rate_from_the_minimum_number_of_orders(
    orders: int, refunded: int, held: bool
) -> None:
    d = PayoutSettings()
    assert refund_hold(d.refund_rate_hold_bp, d.refund_rate_min_orders, refund_rate(wallet(orders, refunded))) is held


def test_a_hold_rate_of_zero_never_holds() -> None:
    assert refund_hold(0, 1, RefundRate(orders=10, refunded=10)) is False
    assert refund_hold(1, 1, RefundRate(orders=10, refunded=1)) is True


def test_policy_defaults_hold_above_thirty_percent_of_five_orders() -> None:
    d = PayoutSettings()
    assert (d.refund_rate_hold_bp, d.refund_rate_min_orders) == (3000, 5)
    with pytest.raises(ValueError):
        PayoutSettings.model_validate({"refund_rate_hold_bp": 10_001})
    with pytest.raises(ValueError):
        PayoutSettings.model_validate({"refund_rate_min_orders": 0})


def test_destinations_are_keyed_per_method_and_alipay_ids_without_case() -> None:
    assert destination_key("alipay", "Someone@Example.com") == destination_key("alipay", "someone@example.com")
    assert destination_key("wechat", "oAbC") != destination_key("wechat", "oabc")
    assert destination_key("bank", "6222") != destination_key("alipay", "6222")


def test_a_destination_is_shared_only_when_another_wallet_used_it() -> None:
    assert not shared(set(), "u_a")
    assert not shared({"u_a"}, "u_a")
    assert shared({"u_a"}, "u_b") and shared({"u_a", "u_b"}, "u_a")


def test_flags_come_in_a_fixed_order() -> None:
    assert flags_of(False, False) == []
    assert flags_of(True, True) == ["REFUND_RATE_HOLD", "SHARED_DESTINATION"]
    assert flags_of(False, True) == ["SHARED_DESTINATION"]
