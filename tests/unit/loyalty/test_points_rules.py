"""Points balances: FIFO spending, expiry of the unspent rest, and the invariants over any sequence of events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.clock import iso
from chalicelib.loyalty.rules.points import Kind, PointsEntry, balance, expired_rows, expiry_of, signed

pytestmark = pytest.mark.unit

START = datetime(2026, 1, 1, tzinfo=UTC)


def day(n: int) -> str:
    return iso(START + timedelta(days=n))


def earn(source: str, points: int, on: int, lasts: int = 365) -> PointsEntry:
    return PointsEntry(source, Kind.REWARD, points, day(on), f"reward {source}", expires_at=day(on + lasts))


def spend(source: str, points: int, on: int) -> PointsEntry:
    return PointsEntry(source, Kind.REDEMPTION, points, day(on), f"redeemed {source}", item_id="li_0")


def test_spending_consumes_the_oldest_credits_first_so_the_newer_ones_outlive_them() -> None:
    entries = [earn("a", 100, 0, lasts=30), earn("b", 100, 10, lasts=365), spend("r", 120, 20)]
    at_day_25 = balance(entries, day(25))
    assert (at_day_25.balance, at_day_25.spent, at_day_25.expired) == (80, 120, 0)
    # "a" was spent whole, so nothing of it expires on day 30; "b" keeps its 80.
    later = balance(entries, day(40))
    assert (later.balance, later.expired) == (80, 0)


def test_the_unspent_rest_of_a_credit_expires_at_its_expiry() -> None:
    entries = [earn("a", 100, 0, lasts=30), spend("r", 40, 5)]
    assert balance(entries, day(29)).balance == 60
    after = balance(entries, day(30))
    assert (after.balance, after.spent, after.expired) == (0, 40, 60)
    [row] = expired_rows(after)
    assert (row.kind, row.points, row.created_at, signed(row)) == (Kind.EXPIRED, 60, day(30), -60)
    assert "expired" in row.explanation and "reward a" in row.explanation


def test_expired_points_cannot_be_spent_by_a_later_redemption() -> None:
    entries = [earn("a", 100, 0, lasts=30), earn("b", 50, 31), spend("r", 80, 32)]
    result = balance(entries, day(33))
    assert (result.expired, result.spent, result.unfunded, result.balance) == (100, 50, 30, 0)


def test_entries_after_the_moment_asked_do_not_count_yet() -> None:
    entries = [earn("a", 100, 0), earn("b", 100, 10)]
    assert balance(entries, day(5)).balance == 100


def test_expiring_soon_lists_the_unspent_rest_by_date() -> None:
    entries = [earn("a", 100, 0, lasts=40), earn("b", 70, 5, lasts=45), earn("c", 10, 6), spend("r", 30, 7)]
    now = START + timedelta(days=20)
    assert balance(entries, iso(now)).expiring(now) == [(day(40), 70), (day(50), 70)]  # "c" lasts a year


def test_the_expiry_of_points_is_the_policy_after_they_were_earned() -> None:
    assert expiry_of(START, 365) == "2027-01-01T00:00:00Z"


_events = st.lists(st.tuples(st.booleans(), st.integers(1, 500), st.integers(0, 400), st.integers(1, 120)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(_events, st.integers(0, 600))
def test_balance_is_never_negative_and_points_are_conserved(events: list[tuple[bool, int, int, int]],
                                                            asked: int) -> None:  # fmt: skip
    entries: list[PointsEntry] = []
    for i, (is_credit, points, on, lasts) in enumerate(sorted(events, key=lambda e: e[2])):
        if is_credit:
            entries.append(earn(f"c{i}", points, on, lasts))
            continue
        # A redemption is written only when the balance at its moment covers it (as the service checks).
        if balance(entries, day(on)).balance >= points:
            entries.append(spend(f"d{i}", points, on))
    result = balance(entries, day(asked))
    assert result.balance >= 0
    assert result.unfunded == 0
    counted = [e for e in entries if e.created_at <= day(asked)]
    assert result.earned == sum(e.points for e in counted if e.credit)
    assert result.spent == sum(e.points for e in counted if not e.credit)
    assert result.earned == result.balance + result.spent + result.expired
    assert all(0 <= lot.left <= lot.entry.points for lot in result.lots)


@settings(max_examples=200, deadline=None)
@given(_events)
def test_even_unchecked_debits_never_make_the_balance_negative(events: list[tuple[bool, int, int, int]]) -> None:
    entries = [
        earn(f"c{i}", p, on, lasts) if credit else spend(f"d{i}", p, on)
        for i, (credit, p, on, lasts) in enumerate(events)
    ]
    result = balance(entries, day(600))
    assert result.balance >= 0
    assert result.earned == result.balance + result.spent + result.expired
    assert result.spent + result.unfunded == sum(e.points for e in entries if not e.credit)


def revoke(source: str, points: int, on: int, reverses: str) -> PointsEntry:
    return PointsEntry(source, Kind.REVOCATION, points, day(on), f"revoked {reverses}", reverses=reverses)


def test_a_revocation_takes_back_the_unspent_points_of_its_own_reward_first() -> None:
    entries = [earn("a", 100, 0), earn("b", 50, 1), revoke("x", 50, 2, reverses="b")]
    result = balance(entries, day(3))
    # "a" (the oldest) keeps its 100: the points taken back are those of "b" itself.
    assert (result.balance, result.revoked, result.debt) == (100, 50, 0)
    assert [lot.left for lot in result.lots] == [100, 0]


def test_revoked_points_already_spent_come_from_the_other_points_then_become_a_debt() -> None:
    entries = [earn("a", 100, 0), earn("b", 30, 1), spend("r", 110, 2), revoke("x", 100, 3, reverses="a")]
    result = balance(entries, day(4))
    # 20 of "b" were left: they pay 20 of the 100; the other 80 are owed.
    assert (result.balance, result.spent, result.revoked, result.debt) == (0, 110, 100, 80)


def test_later_points_pay_the_debt_before_they_can_be_spent() -> None:
    entries = [earn("a", 100, 0), spend("r", 100, 1), revoke("x", 100, 2, reverses="a"), earn("b", 30, 3),
               earn("c", 200, 4)]  # fmt: skip
    assert (balance(entries, day(3)).balance, balance(entries, day(3)).debt) == (0, 70)
    result = balance(entries, day(5))
    assert (result.balance, result.debt) == (130, 0)
    assert [lot.paid for lot in result.lots] == [0, 30, 70]
    # The paid part of a credit is not the person's any more: it does not expire from them either.
    later = balance(entries, day(4 + 365))
    assert (later.balance, later.expired) == (0, 130)


def test_a_debt_never_makes_the_balance_negative_nor_expires() -> None:
    entries = [earn("a", 100, 0, lasts=10), spend("r", 100, 1), revoke("x", 100, 2, reverses="a")]
    result = balance(entries, day(400))
    assert (result.balance, result.debt, result.expired) == (0, 100, 0)


_with_revocations = st.lists(
    st.tuples(st.sampled_from(["earn", "spend", "revoke"]), st.integers(1, 500), st.integers(0, 400),
              st.integers(1, 120)),
    max_size=40,
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(_with_revocations, st.integers(0, 600))
def test_revocations_keep_the_balance_non_negative_and_points_conserved(
    events: list[tuple[str, int, int, int]], asked: int
) -> None:
    entries: list[PointsEntry] = []
    credits: list[PointsEntry] = []
    for i, (what, points, on, lasts) in enumerate(sorted(events, key=lambda e: e[2])):
        if what == "earn":
            credits.append(earn(f"c{i}", points, on, lasts))
            entries.append(credits[-1])
        elif what == "spend" and balance(entries, day(on)).balance >= points:
            entries.append(spend(f"d{i}", points, on))
        elif what == "revoke" and credits:
            target = credits.pop(points % len(credits))  # each credit is revoked at most once
            entries.append(revoke(f"x{i}", target.points, on, reverses=target.source))
    result = balance(entries, day(asked))
    assert result.balance >= 0 and result.debt >= 0 and result.unfunded == 0
    assert result.earned + result.debt == result.balance + result.spent + result.expired + result.revoked
    counted = [e for e in entries if e.created_at <= day(asked)]
    assert result.revoked == sum(e.points for e in counted if e.kind is Kind.REVOCATION)
    assert all(0 <= lot.left <= lot.entry.points for lot in result.lots)
    # The entries as the participant sees them add up to what they hold less what they owe.
    shown = sum(signed(e) for e in counted + expired_rows(result))
    assert shown == result.balance - result.debt
