"""Orders and the commission ledger as the distribution store returns them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """One commission entry of an order: positive when earned, negative when clawed back."""

    level: int
    code: str
    amount_fen: int
    available_at: str
    clawback: bool = False


@dataclass(frozen=True)
class OrderRecord:
    """A paid (or refunded) order: what a repeated delivery is compared with and a refund needs.

    The buyer's analytics facts (channel, variant, whether they were invited) travel with it, so the
    stream counts the order without reading the participant."""

    oid: str
    cid: str
    amount: int
    external_id: str
    status: str = "paid"
    buyer: str | None = None
    channel: str | None = None
    variant: str | None = None
    invited: bool = False


@dataclass(frozen=True)
class LedgerEntry:
    """A commission entry mirrored under its earner; `key` is its sort key,
    `LEDGER#{order id}#{level}[#CLAWBACK]`, and a clawback's amount is negative."""

    key: str
    level: int | None = None
    amount_fen: int | None = None
    available_at: str | None = None
