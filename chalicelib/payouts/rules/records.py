"""Withdrawals and payout settings as the payouts store returns them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WithdrawalRecord:
    """One withdrawal request. `destination_enc` and `name_enc` are sealed with the PII cipher; the views show
    `destination_hint` (the last characters) only."""

    tid: str
    wid: str
    uid: str
    cid: str
    amount_fen: int  # gross: what left the wallet
    fee_fen: int
    net_fen: int  # what the person receives
    method: str
    destination_enc: str
    destination_hint: str
    status: str
    created_at: str
    updated_at: str
    name_enc: str | None = None
    request_hash: str = ""  # what the request asked for, to tell a retry from a different request
    provider_ref: str | None = None
    reason: str | None = None
    attempts: int = 0
    submitted_at: str | None = None
    decided_by: str | None = None
    destination_index: str | None = None  # the destination's keyed blind index (the shared-destination item)
    flags: tuple[str, ...] = ()  # reason codes it was flagged with (docs/payouts.md, "Fraud on the money side")
    approved_flags: tuple[str, ...] = ()  # the flags finance knew of when approving it


@dataclass(frozen=True)
class StoredSettings:
    """The tenant's payout policy as JSON text (the settings model reads it), with its version."""

    document: str
    version: int
    updated_at: str
    updated_by: str
