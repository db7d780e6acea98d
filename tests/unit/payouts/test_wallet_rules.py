"""Wallet balances: the invariant over any order of events, and what each entry moves."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.payouts.rules.wallet import Balances, Kind, WalletEntry, balances, kind_of, paying_referrals

pytestmark = pytest.mark.unit

NOW = "2026-12-01T00:00:00Z"
PAST, FUTURE = "2026-11-01T00:00:00Z", "2026-12-31T00:00:00Z"


def com(oid: str, amount: int, at: str = PAST, level: int = 1) -> WalletEntry:
    return WalletEntry(f"E#C#{oid}#{level}", amount, PAST, available_at=at, oid=oid, level=level)


def claw(oid: str, amount: int, at: str = PAST, level: int = 1) -> WalletEntry:
    return WalletEntry(f"E#C#{oid}#{level}#CLAWBACK", -amount, NOW, available_at=at, oid=oid, level=level)


def wd(wid: str, amount: int, suffix: str = "") -> WalletEntry:
    sign = -1 if suffix == "" else 1
    return WalletEntry(f"E#W#{wid}{suffix}", sign * amount, NOW)


def test_kinds_come_from_the_key() -> None:
    assert kind_of("E#C#o-1#1") is Kind.COMMISSION
    assert kind_of("E#C#o-1#2#CLAWBACK") is Kind.CLAWBACK
    assert kind_of("E#W#wd_1") is Kind.WITHDRAWAL
    assert kind_of("E#W#wd_1#PAID") is Kind.PAID
    assert kind_of("E#W#wd_1#RETURN") is Kind.RETURN
    with pytest.raises(ValueError):
        kind_of("HEAD")


def test_frozen_commission_is_pending_until_available_at() -> None:
    got = balances([com("o-1", 500, FUTURE), com("o-2", 300)], NOW)
    assert (got.pending_fen, got.available_fen) == (500, 300)


def test_withdrawal_moves_available_to_requested_then_paid() -> None:
    entries = [com("o-1", 1000), wd("w", 600)]
    assert balances(entries, NOW).as_view() == {
        "pending_fen": 0, "available_fen": 400, "requested_fen": 600, "paid_fen": 0, "earned_fen": 1000,
        "clawed_back_fen": 0,
    }  # fmt: skip
    paid = balances([*entries, wd("w", 600, "#PAID")], NOW)
    assert (paid.available_fen, paid.requested_fen, paid.paid_fen) == (400, 0, 600)


def test_returned_withdrawal_gives_the_money_back() -> None:
    got = balances([com("o-1", 1000), wd("w", 600), wd("w", 600, "#RETURN")], NOW)
    assert (got.available_fen, got.requested_fen) == (1000, 0)


def test_clawback_after_payout_leaves_a_debt_that_the_next_commission_repays() -> None:
    entries = [com("o-1", 1000), wd("w", 1000), wd("w", 1000, "#PAID"), claw("o-1", 1000)]
    assert balances(entries, NOW).available_fen == -1000
    assert balances([*entries, com("o-2", 1500)], NOW).available_fen == 500


def test_clawback_of_a_frozen_commission_leaves_pending() -> None:
    got = balances([com("o-1", 1000, FUTURE), claw("o-1", 1000, FUTURE)], NOW)
    assert (got.pending_fen, got.available_fen, got.clawed_back_fen) == (0, 0, 1000)


def test_paying_referrals_count_direct_unrefunded_orders() -> None:
    entries = [com("o-1", 10), com("o-1", 3, level=2), com("o-2", 10, level=2), com("o-3", 10), claw("o-3", 10)]
    assert paying_referrals(entries) == 1


# --- the invariant, over any sequence of events -------------------------------------------------------------


@dataclass
class Model:
    """A wallet driven the way the service drives it: a withdrawal only up to the available balance."""

    entries: list[WalletEntry] = field(default_factory=list)
    commissions: dict[str, int] = field(default_factory=dict)
    clawed: set[str] = field(default_factory=set)
    open: dict[str, int] = field(default_factory=dict)  # withdrawals not yet paid or returned
    paid_out: bool = False

    def now(self) -> Balances:
        return balances(self.entries, NOW)


events = st.lists(
    st.tuples(
        st.sampled_from(["commission", "clawback", "withdraw", "pay", "give_back"]),
        st.integers(min_value=1, max_value=5000),
        st.booleans(),
        st.integers(min_value=0, max_value=50),
    ),
    max_size=60,
)


@settings(max_examples=200, deadline=None)
@given(events)
def test_balances_always_sum_to_net_commission(steps: list[tuple[str, int, bool, int]]) -> None:
    m = Model()
    for action, amount, frozen, pick in steps:
        if action == "commission":
            oid = f"o-{len(m.commissions)}"
            m.commissions[oid] = amount
            m.entries.append(com(oid, amount, FUTURE if frozen else PAST))
        elif action == "clawback":
            candidates = sorted(set(m.commissions) - m.clawed)
            if candidates:
                oid = candidates[pick % len(candidates)]
                original = next(e for e in m.entries if e.key == f"E#C#{oid}#1")
                m.clawed.add(oid)
                m.entries.append(claw(oid, m.commissions[oid], original.available_at or PAST))
        elif action == "withdraw":
            if amount <= m.now().available_fen:  # the request's check
                wid = f"w{len(m.entries)}"
                m.open[wid] = amount
                m.entries.append(wd(wid, amount))
        elif m.open:
            wid = sorted(m.open)[pick % len(m.open)]
            if action == "pay":
                m.paid_out = True
            m.entries.append(wd(wid, m.open.pop(wid), "#PAID" if action == "pay" else "#RETURN"))
        b = m.now()
        net = sum(m.commissions.values()) - sum(m.commissions[o] for o in m.clawed)
        assert b.pending_fen + b.available_fen + b.requested_fen + b.paid_fen == net
        assert b.earned_fen - b.clawed_back_fen == net
        assert b.requested_fen == sum(m.open.values()) >= 0
        if b.available_fen < 0:
            # Only a clawback of money already withdrawn: never a withdrawal on its own.
            assert m.clawed and (m.paid_out or m.open)
