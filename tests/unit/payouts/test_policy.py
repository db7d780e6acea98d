"""The payout policy: defaults, fees, the minimum, methods, limits in the tenant's zone, first-payout referrals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.core.errors import FissionError
from chalicelib.payouts.rules import states
from chalicelib.payouts.rules.policy import PayoutSettings, Quote, auto_approved, check_request, fee
from chalicelib.payouts.rules.states import Status
from chalicelib.payouts.rules.wallet import WalletEntry

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


def policy(**kw: Any) -> PayoutSettings:
    return PayoutSettings.model_validate(kw)


def refused(settings: PayoutSettings, amount: int, available: int = 10_000, entries: Any = (), **kw: Any) -> str:
    with pytest.raises(FissionError) as caught:
        check_request(settings, kw.get("method", "wechat"), amount, available, list(entries), NOW, "Asia/Shanghai")
    return str(caught.value.code)


def test_defaults_are_documented_and_open() -> None:
    d = PayoutSettings()
    assert d.enabled and d.min_withdraw_fen == 100 and d.methods == ["wechat", "alipay", "bank"]
    assert (d.fee_bp, d.fee_fixed_fen, d.fee_min_fen, d.auto_approve_max_fen) == (0, 0, 0, 0)
    assert d.daily_count is None and d.min_paying_referrals == 0


def test_settings_are_strict() -> None:
    with pytest.raises(ValidationError):
        policy(fee_bp="100")
    with pytest.raises(ValidationError):
        policy(unknown=1)
    with pytest.raises(ValidationError):
        policy(methods=["bank", "bank"])
    with pytest.raises(ValidationError):
        policy(methods=["paypal"])


def test_fee_is_rate_plus_fixed_with_a_floor_and_never_above_the_amount() -> None:
    assert fee(policy(fee_bp=60, fee_fixed_fen=10), 10_000) == Quote(10_000, 70, 9930)
    assert fee(policy(fee_bp=60, fee_min_fen=100), 1000) == Quote(1000, 100, 900)
    assert fee(policy(fee_fixed_fen=500), 300) == Quote(300, 300, 0)


def test_checks_in_order() -> None:
    assert refused(policy(enabled=False), 500) == "PAYOUTS_DISABLED"
    assert refused(policy(methods=["bank"]), 500) == "PAYOUT_METHOD_DISABLED"
    assert refused(policy(min_withdraw_fen=1000), 999) == "WITHDRAWAL_BELOW_MINIMUM"
    assert refused(policy(fee_fixed_fen=500), 500) == "WITHDRAWAL_BELOW_MINIMUM"
    assert refused(policy(), 10_001) == "INSUFFICIENT_BALANCE"
    assert check_request(policy(), "wechat", 10_000, 10_000, [], NOW, "Asia/Shanghai").net_fen == 10_000


def test_first_payout_needs_paying_referrals() -> None:
    one = [WalletEntry("E#C#o-1#1", 500, "2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", oid="o-1", level=1)]
    assert refused(policy(min_paying_referrals=2), 200, entries=one) == "NOT_ENOUGH_REFERRALS"
    paid_before = [*one, WalletEntry("E#W#wd_a#PAID", 100, "2026-11-02T00:00:00Z")]
    assert check_request(policy(min_paying_referrals=2), "bank", 200, 400, paid_before, NOW, "Asia/Shanghai")


def test_daily_limits_count_the_local_day_and_ignore_returned_requests() -> None:
    # 2026-11-30T17:00Z is already 1 December in Shanghai; 15:00Z is still 30 November.
    today = WalletEntry("E#W#wd_a", -300, "2026-11-30T17:00:00Z")
    yesterday = WalletEntry("E#W#wd_b", -300, "2026-11-30T15:00:00Z")
    given_back = [WalletEntry("E#W#wd_c", -300, "2026-12-01T01:00:00Z"),
                  WalletEntry("E#W#wd_c#RETURN", 300, "2026-12-01T02:00:00Z")]  # fmt: skip
    entries = [today, yesterday, *given_back]
    assert refused(policy(daily_count=1), 100, entries=entries) == "WITHDRAWAL_LIMIT"
    assert check_request(policy(daily_count=2), "wechat", 100, 9000, entries, NOW, "Asia/Shanghai")
    assert refused(policy(daily_amount_fen=500), 201, entries=entries) == "WITHDRAWAL_LIMIT"
    assert refused(policy(monthly_amount_fen=500), 201, entries=entries) == "WITHDRAWAL_LIMIT"
    assert check_request(policy(monthly_count=2), "wechat", 200, 9000, entries, NOW, "Asia/Shanghai")


def test_auto_approval_up_to_the_threshold_only() -> None:
    assert not auto_approved(policy(), 1)
    assert auto_approved(policy(auto_approve_max_fen=500), 500)
    assert not auto_approved(policy(auto_approve_max_fen=500), 501)


def test_state_machine() -> None:
    assert states.allowed(Status.REQUESTED, Status.APPROVED)
    assert states.allowed(Status.APPROVED, Status.PAYING) and states.allowed(Status.APPROVED, Status.PAID)
    assert states.allowed(Status.PAYING, Status.FAILED)
    assert not states.allowed(Status.PAYING, Status.REJECTED)
    assert not states.allowed(Status.REQUESTED, Status.PAID)
    assert states.FINAL == {Status.PAID, Status.FAILED, Status.REJECTED}
    assert states.sources(Status.REJECTED) == {Status.REQUESTED, Status.APPROVED}
    assert states.RETURNS == {Status.FAILED, Status.REJECTED}
