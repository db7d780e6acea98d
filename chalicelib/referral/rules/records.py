"""Participants, rewards, reviews and tree pages as the store returns them: typed records other slices may read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ParticipantRecord:
    cid: str
    tid: str
    code: str
    identity: str
    joined_at: str
    nickname: str | None = None
    avatar_url: str | None = None
    phone_enc: str | None = None
    phone_hash: str | None = None
    device_id: str | None = None
    channel: str | None = None
    inviter: str | None = None
    attribution: str | None = None
    qualified_at: str | None = None
    variant: str | None = None
    depth: int | None = None
    inviter_joined_at: str | None = None
    erasing_at: str | None = None  # set when erasure began (docs/privacy.md): a tombstone from then on
    erased_at: str | None = None
    # Fraud (docs/fraud.md).
    ip_hash: str | None = None
    risk_score: int | None = None
    risk_reasons: list[dict[str, Any]] | None = None
    lineage: list[dict[str, str]] | None = None
    review: str | None = None
    held_qualified_at: str | None = None
    payment_hash: str | None = None
    person: str | None = None
    token_version: int = 0
    contact_enc: str | None = None
    birthday: str | None = None
    counted: set[str] = field(default_factory=set)
    rewarded: set[str] = field(default_factory=set)
    held: set[str] = field(default_factory=set)

    @property
    def erased(self) -> bool:
        """Erased, or erasure under way: personal data may already be gone, so nothing reads it."""
        return self.erasing_at is not None or self.erased_at is not None

    @property
    def owner(self) -> str:
        """Whose points and tier the participant's facts count for: the person behind it (one per tenant, whatever
        campaign), or its code's own for a participant who joined before profiles existed."""
        return self.person or f"c_{self.code}"


@dataclass
class RewardRecord:
    cid: str
    tid: str
    code: str
    rule: str
    type: str
    name: str
    value_fen: int
    points: int
    status: str
    created_at: str
    reason: str | None = None
    stock_rule: str | None = None
    budget_fen: int | None = None
    cost_fen: int | None = None
    pool_rule: str | None = None
    coupon_code: str | None = None
    issued_at: str | None = None
    claimed_at: str | None = None
    claim_enc: str | None = None
    revoked_at: str | None = None
    # The merchant's veto before issuing (docs/rewards-veto.md): while `pending_release`, when the release schedule
    # looks at it next (None: parked for an operator's approval), the validation callback's progress, the approval
    # state (`required` / `approved`), and the invitees counted when it was earned (the callback's payload).
    reason_code: str | None = None
    release_at: str | None = None
    validated_at: str | None = None
    attempts: int = 0
    approval: str | None = None
    invitees: list[str] | None = None
    # The rewarded participant's acquisition channel: analytics counts the cost by it, and a budget stop-loss line of
    # that channel holds the reward (docs/retention.md).
    channel: str | None = None


@dataclass
class ReviewRecord:
    rid: str
    tid: str
    cid: str
    kind: str  # join | help | order | refund | reward
    subject: str
    status: str
    score: int
    reasons: list[dict[str, Any]]
    created_at: str
    decided_at: str | None = None
    decided_by: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class TreeNode:
    """A participant as the referral tree and the CSV exports list them: no contact data."""

    code: str
    joined_at: str | None = None
    nickname: str | None = None
    channel: str | None = None
    inviter: str | None = None
    qualified_at: str | None = None
    variant: str | None = None
    depth: int | None = None
    counted: frozenset[str] = frozenset()  # the invitees that count for them


@dataclass(frozen=True)
class TreePage:
    """One bounded read of the tree: its nodes, whether anything was left unread, and the opaque
    cursor that reads on (None when there is nothing left, or nothing to resume after)."""

    nodes: list[TreeNode]
    more: bool
    cursor: str | None


@dataclass(frozen=True)
class ParticipantPage:
    """One query page of a campaign's participants for an export, and where the next page starts.

    `following` is opaque to the caller: kept as it is (an export job's saved cursor) and handed
    back to read the next page."""

    participants: list[TreeNode]
    following: dict[str, Any]
