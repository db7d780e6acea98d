"""Wallet balances: every figure is a sum of the wallet's entries at a moment (pure, no I/O).

Entries are written once and never changed; their sort key says what they are:
`E#C#{oid}#{level}` a commission (+), `E#C#{oid}#{level}#CLAWBACK` its clawback (-, with the original's
`available_at`), `E#W#{wid}` a withdrawal request (- its gross amount), `E#W#{wid}#PAID` the marker that
it was paid (+, counted in `paid` only), `E#W#{wid}#RETURN` the money of a rejected or failed withdrawal
given back (+).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

COMMISSION_PREFIX = "E#C#"
WITHDRAWAL_PREFIX = "E#W#"
CLAWBACK_SUFFIX = "#CLAWBACK"
PAID_SUFFIX = "#PAID"
RETURN_SUFFIX = "#RETURN"


class Kind(StrEnum):
    COMMISSION = "commission"
    CLAWBACK = "clawback"
    WITHDRAWAL = "withdrawal"
    PAID = "paid"
    RETURN = "return"


def kind_of(key: str) -> Kind:
    """What an entry is, from its sort key."""
    if key.startswith(COMMISSION_PREFIX):
        return Kind.CLAWBACK if key.endswith(CLAWBACK_SUFFIX) else Kind.COMMISSION
    if key.startswith(WITHDRAWAL_PREFIX):
        if key.endswith(PAID_SUFFIX):
            return Kind.PAID
        if key.endswith(RETURN_SUFFIX):
            return Kind.RETURN
        return Kind.WITHDRAWAL
    raise ValueError(f"not a wallet entry key: {key!r}")


def withdrawal_id(key: str) -> str:
    """The withdrawal id a withdrawal, paid or return entry belongs to."""
    return key.removeprefix(WITHDRAWAL_PREFIX).split("#", 1)[0]


@dataclass(frozen=True)
class WalletEntry:
    """One entry as the store returns it; `amount_fen` is signed (see the module's docstring)."""

    key: str
    amount_fen: int
    created_at: str
    available_at: str | None = None  # commissions and clawbacks only
    cid: str | None = None
    oid: str | None = None
    level: int | None = None

    @property
    def kind(self) -> Kind:
        return kind_of(self.key)


@dataclass(frozen=True)
class Balances:
    """A wallet at a moment. `pending + available + requested + paid == earned - clawed_back`, always."""

    pending_fen: int  # commissions (less clawbacks) still in their frozen period
    available_fen: int  # what may be withdrawn; negative only after a clawback of money already paid out
    requested_fen: int  # withdrawals on their way (requested, approved, paying)
    paid_fen: int  # withdrawals paid
    earned_fen: int  # every commission ever credited
    clawed_back_fen: int  # every clawback (a positive figure)

    def as_view(self) -> dict[str, int]:
        return {
            "pending_fen": self.pending_fen, "available_fen": self.available_fen, "requested_fen": self.requested_fen,
            "paid_fen": self.paid_fen, "earned_fen": self.earned_fen, "clawed_back_fen": self.clawed_back_fen,
        }  # fmt: skip


def balances(entries: Iterable[WalletEntry], now_iso: str) -> Balances:
    """The wallet's figures at `now_iso` (an ISO-8601 UTC instant, compared as text like every stored time)."""
    pending = available = requested = paid = earned = clawed = 0
    for e in entries:
        kind = e.kind
        if kind in (Kind.COMMISSION, Kind.CLAWBACK):
            if kind is Kind.COMMISSION:
                earned += e.amount_fen
            else:
                clawed -= e.amount_fen
            if (e.available_at or "") > now_iso:
                pending += e.amount_fen
            else:
                available += e.amount_fen
        elif kind is Kind.WITHDRAWAL:
            available += e.amount_fen  # negative: the gross amount leaves available
            requested -= e.amount_fen
        elif kind is Kind.RETURN:
            available += e.amount_fen
            requested -= e.amount_fen
        else:  # PAID: moves the amount from requested to paid; available is unchanged
            requested -= e.amount_fen
            paid += e.amount_fen
    return Balances(pending, available, requested, paid, earned, clawed)


def paying_referrals(entries: Iterable[WalletEntry]) -> int:
    """Orders that earned this person a direct (level 1) commission and were not refunded."""
    rows = list(entries)
    clawed = {e.key.removesuffix(CLAWBACK_SUFFIX) for e in rows if e.kind is Kind.CLAWBACK}
    return len({e.oid for e in rows if e.kind is Kind.COMMISSION and e.level == 1 and e.key not in clawed})


def ever_paid(entries: Iterable[WalletEntry]) -> bool:
    return any(e.kind is Kind.PAID for e in entries)
