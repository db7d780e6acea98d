"""Data-subject export and erasure: the records the privacy store hands out (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CommissionEntry:
    """A commission entry mirrored under its earner: earned, or (negative) clawed back."""

    order_id: str | None
    level: int | None
    amount_fen: int | None
    status: str | None
    available_at: str | None
    created_at: str | None


@dataclass(frozen=True)
class AssistState:
    """The participant's own assist, as far as it is theirs: not who helped."""

    goal: str | None
    target: int | None
    helpers_required: int | None
    slots: int | None
    original_price: int | None
    floor_price: int | None
    started_at: str | None
    deadline: str | None


@dataclass(frozen=True)
class HelpsDay:
    """How many assists the participant gave on one day."""

    day: str | None
    helps: int | None


@dataclass(frozen=True)
class SubjectPartition:
    """What the participant's own partition holds beside them and their rewards."""

    commission: list[CommissionEntry]  # in ledger (sort key) order
    assist: AssistState | None
    helps: list[HelpsDay]


@dataclass(frozen=True)
class Membership:
    """The participant's place in one group."""

    gid: str
    code: str
    leader: bool
    joined_at: str | None
    order_id: str | None
    nickname: str | None


@dataclass(frozen=True)
class BuyerOrder:
    """An order the participant paid for."""

    tid: str
    oid: str
    external_id: str | None
    status: str | None
    amount: int | None
    paid_at: str | None
    refunded_at: str | None


@dataclass(frozen=True)
class Tombstone:
    """The participant item once erasure began: when it began, and the poster cache keys to drop."""

    erasing_at: str
    poster_keys: frozenset[str]
