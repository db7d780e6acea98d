"""The withdrawal states and the transitions allowed between them (pure)."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    REQUESTED = "requested"  # waiting for finance (or for automatic approval)
    APPROVED = "approved"  # finance said yes: the paying schedule (providers) or finance (bank) pays it
    PAYING = "paying"  # submitted to a provider, its outcome not yet known
    PAID = "paid"
    FAILED = "failed"  # the provider refused it: the money is back in the wallet
    REJECTED = "rejected"  # finance said no: the money is back in the wallet


TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.REQUESTED: frozenset({Status.APPROVED, Status.REJECTED}),
    Status.APPROVED: frozenset({Status.PAYING, Status.PAID, Status.REJECTED}),
    Status.PAYING: frozenset({Status.PAID, Status.FAILED}),
    Status.PAID: frozenset(),
    Status.FAILED: frozenset(),
    Status.REJECTED: frozenset(),
}

# The transitions that give the money back: the RETURN entry is written in the same transaction.
RETURNS = frozenset({Status.FAILED, Status.REJECTED})
FINAL = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)


def allowed(current: Status, target: Status) -> bool:
    return target in TRANSITIONS[current]


def sources(target: Status) -> frozenset[Status]:
    """Every state a withdrawal may move to `target` from (the write's condition)."""
    return frozenset(s for s, nexts in TRANSITIONS.items() if target in nexts)
