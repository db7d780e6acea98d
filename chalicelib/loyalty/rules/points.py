"""Points balances: every figure is a sum of the ledger's entries at a moment, with FIFO expiry (pure, no I/O).

Entries are written once and never changed. A credit (reward, task, check-in, adjustment) carries `expires_at`;
a debit (a redemption) spends points. Replayed in time order, each debit consumes the oldest live credits first;
a credit whose `expires_at` has passed loses whatever of it is still unspent (`expired`). Nothing is written when
points expire: the expiry is read from the entries, so it can never be applied twice or forgotten.

A revocation takes a revoked reward's points back: first what is left of that reward's own credit, then the oldest
live credits; what no live points cover (the person spent them already) is a `debt`, which later credits pay first.
The balance (what can be spent) is therefore never negative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from chalicelib.core.clock import iso

DEFAULT_EXPIRY_DAYS = 365
MAX_EXPIRY_DAYS = 3650
# "Expiring soon" in a participant's view: credits whose unspent rest expires within this many days.
EXPIRING_SOON_DAYS = 30


class Kind(StrEnum):
    REWARD = "reward"
    TASK = "task"
    CHECK_IN = "check_in"
    ADJUSTMENT = "adjustment"
    REDEMPTION = "redemption"
    EXPIRED = "expired"  # derived at read time, never written
    REVOCATION = "revocation"  # a revoked reward's points taken back


EARNING = frozenset({Kind.REWARD, Kind.TASK, Kind.CHECK_IN, Kind.ADJUSTMENT})
SPENDING = frozenset({Kind.REDEMPTION})


@dataclass(frozen=True)
class PointsEntry:
    """One entry as the store returns it: `points` > 0, credited or debited by its kind; `source` is unique in
    the ledger (the entry's key), `explanation` says in words why it is there."""

    source: str
    kind: Kind
    points: int
    created_at: str
    explanation: str
    expires_at: str | None = None  # credits only
    cid: str | None = None
    item_id: str | None = None  # redemptions only
    reverses: str | None = None  # revocations only: the source of the credit taken back

    @property
    def credit(self) -> bool:
        return self.kind in EARNING


def expiry_of(earned_at: datetime, days: int) -> str:
    """When points earned at `earned_at` expire under a policy of `days`."""
    return iso(earned_at + timedelta(days=days))


@dataclass
class Lot:
    """What is left of one credit."""

    entry: PointsEntry
    left: int
    expired: int = 0
    paid: int = 0  # taken at once to pay a debt


@dataclass(frozen=True)
class Balance:
    earned: int
    spent: int
    expired: int
    balance: int
    # Redemptions that found no live points to consume (0 whenever every one was checked against the balance).
    unfunded: int
    lots: tuple[Lot, ...] = field(default_factory=tuple)
    revoked: int = 0  # points revocations took back, from live credits or as debt
    debt: int = 0  # revoked points no live credit covered yet: later credits pay it before they can be spent

    def expiring(self, now: datetime, days: int = EXPIRING_SOON_DAYS) -> list[tuple[str, int]]:
        """(expires_at, points) of the live credits whose unspent rest expires within `days`, soonest first."""
        until = iso(now + timedelta(days=days))
        soon = [(lot.entry.expires_at or "", lot.left) for lot in self.lots if lot.left > 0]
        return sorted((at, left) for at, left in soon if at and at <= until)


def _expired(lot: Lot, at: str) -> bool:
    return lot.entry.expires_at is not None and lot.entry.expires_at <= at


def balance(entries: Iterable[PointsEntry], at: str) -> Balance:
    """The balance at `at` (an ISO time): entries after it are not counted yet."""
    events = sorted((e for e in entries if e.created_at <= at), key=lambda e: (e.created_at, not e.credit, e.source))
    lots: list[Lot] = []
    spent = unfunded = expired = 0

    def expire(until: str) -> int:
        gone = 0
        for lot in lots:
            if lot.left and _expired(lot, until):
                lot.expired, lot.left = lot.left, 0
                gone += lot.expired
        return gone

    def consume(need: int, first: str | None = None) -> int:
        """Take `need` from the live lots (the lot credited by `first` before the others, then oldest first);
        what could not be taken."""
        order = sorted(lots, key=lambda lot: (lot.entry.source != first, lot.entry.created_at, lot.entry.source))
        for lot in order:
            take = min(lot.left, need)
            lot.left -= take
            need -= take
            if not need:
                break
        return need

    revoked = debt = 0
    for entry in events:
        expired += expire(entry.created_at)  # what expired before (or at) this moment is gone before it spends
        if entry.credit:
            paid = min(debt, entry.points)  # a debt is paid before anything else
            debt -= paid
            lots.append(Lot(entry, entry.points - paid, paid=paid))
        elif entry.kind is Kind.REVOCATION:
            short = consume(entry.points, entry.reverses)
            revoked += entry.points
            debt += short
        else:
            short = consume(entry.points)
            spent += entry.points - short
            unfunded += short
    expired += expire(at)
    earned = sum(lot.entry.points for lot in lots)
    return Balance(earned, spent, expired, sum(lot.left for lot in lots), unfunded, tuple(lots), revoked, debt)


def expired_rows(result: Balance) -> list[PointsEntry]:
    """An `expired` row for each credit that lost points, so that every change of the balance explains itself."""
    return [
        PointsEntry(
            source=f"expiry:{lot.entry.source}",
            kind=Kind.EXPIRED,
            points=lot.expired,
            created_at=lot.entry.expires_at or lot.entry.created_at,
            explanation=f"{lot.expired} unspent points of “{lot.entry.explanation}” expired",
            cid=lot.entry.cid,
        )  # fmt: skip
        for lot in result.lots
        if lot.expired
    ]


def signed(entry: PointsEntry) -> int:
    """The entry's effect on the balance: + for a credit, - for a debit or an expiry."""
    return entry.points if entry.credit else -entry.points
