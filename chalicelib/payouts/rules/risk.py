"""Fraud on the money side: an earner whose orders are refunded too often, a destination several wallets share
(pure, no I/O; docs/payouts.md, "Fraud on the money side")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.core.reasons import ReasonCode
from chalicelib.payouts.rules.wallet import Kind, WalletEntry

# A destination's index item lists at most this many wallets; past it the destination is flagged all the same.
MAX_DESTINATION_WALLETS = 20
REFUND_HOLD_TEXT = "held: too many of the orders behind this wallet were refunded; finance decides"


@dataclass(frozen=True)
class RefundRate:
    """The orders that earned this wallet commission, and how many of them were refunded (clawed back)."""

    orders: int
    refunded: int

    @property
    def rate_bp(self) -> int:
        return self.refunded * 10_000 // self.orders if self.orders else 0


def refund_rate(entries: Iterable[WalletEntry]) -> RefundRate:
    """Distinct orders with a commission entry, and those of them with a clawback entry."""
    orders: set[str] = set()
    refunded: set[str] = set()
    for e in entries:
        if e.kind is Kind.COMMISSION and e.oid:
            orders.add(e.oid)
        elif e.kind is Kind.CLAWBACK and e.oid:
            refunded.add(e.oid)
    return RefundRate(len(orders), len(refunded & orders))


def refund_hold(hold_bp: int, min_orders: int, rate: RefundRate) -> bool:
    """Held when the wallet has at least `min_orders` orders and more than `hold_bp` of them were refunded;
    `hold_bp` 0 never holds."""
    return hold_bp > 0 and rate.orders >= max(min_orders, 1) and rate.refunded * 10_000 > hold_bp * rate.orders


def destination_key(method: str, destination: str) -> str:
    """The text a destination's blind index is taken of: per method (an openid and an account number never
    collide), Alipay login ids (phones, emails) compared without case."""
    value = destination.strip()
    return f"{method}|{value.lower() if method == 'alipay' else value}"


def shared(wallets: Iterable[str], uid: str) -> bool:
    """Another wallet than `uid` has used this destination."""
    return any(w != uid for w in wallets)


def flags_of(held: bool, shared_destination: bool) -> list[str]:
    """The reason codes a request is flagged with, in a fixed order; any one keeps it from automatic approval."""
    out = []
    if held:
        out.append(ReasonCode.REFUND_RATE_HOLD.value)
    if shared_destination:
        out.append(ReasonCode.SHARED_DESTINATION.value)
    return out
