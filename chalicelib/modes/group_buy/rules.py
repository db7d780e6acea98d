"""Group buying (拼团): tiers, deadlines and what a group's state means (pure)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.campaigns.rules.spec import GroupBuyRules, PriceTier
from chalicelib.core.errors import ValidationFailed

GroupStatus = Literal["open", "succeeded", "failed"]
# Why a group closed unfilled: its own deadline, or the campaign's end (the operator's or the end time's).
CloseReason = Literal["deadline", "campaign_ended"]
DEADLINE_SHARDS = 8  # spreads one day's deadline bucket over index partitions during a sale
# The roster's stand-in for a member added by auto-fill: never a participant, never a person's name.
SYSTEM_NICKNAME = "系统成员"


class OpenGroupRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int | None = Field(default=None, ge=2, le=50)


def tier_for(rules: GroupBuyRules, size: int | None) -> PriceTier:
    """The price tier a leader opens: the one of the requested size, else the smallest."""
    tiers = rules.tiers
    if size is None:
        return tiers[0]
    for tier in tiers:
        if tier.size == size:
            return tier
    sizes = [t.size for t in tiers]
    raise ValidationFailed(
        f"size must be one of {sizes}",
        details={"errors": [{"field": "size", "type": "enum", "message": f"one of {sizes}"}]},
    )


def deadline(opened_at: datetime, rules: GroupBuyRules, campaign_ends_at: datetime) -> datetime:
    """A group closes after `deadline_hours`, and never after the campaign itself ends."""
    return min(opened_at + timedelta(hours=rules.deadline_hours), campaign_ends_at)


def status(stored: str, members: int, size: int, deadline_at: datetime, now: datetime) -> GroupStatus:
    """What the group is now: full groups have succeeded even before the stream records it."""
    if stored in ("succeeded", "failed"):
        return stored  # type: ignore[return-value]
    if members >= size:
        return "succeeded"
    if now >= deadline_at:
        return "failed"
    return "open"


def system_fill(rules: GroupBuyRules, members: int, size: int) -> int:
    """How many system members complete a group that closes unfilled: the missing places when the merchant
    turned auto-fill on and the group has at least `auto_fill_min_members` real members, else 0 (it fails)."""
    if not rules.auto_fill or members >= size or members < rules.auto_fill_min_members:
        return 0
    return size - members


def close_reason(deadline_at: datetime, campaign_closes_at: datetime) -> CloseReason:
    """A group whose deadline is the campaign's end (capped at opening, or ended early by an operator)
    closes because the campaign ended; any other closes at its own deadline."""
    return "campaign_ended" if campaign_closes_at <= deadline_at else "deadline"


def deadline_shard(gid: str) -> int:
    return int(hashlib.sha256(gid.encode()).hexdigest()[:8], 16) % DEADLINE_SHARDS


@dataclass
class Member:
    code: str
    nickname: str | None
    leader: bool
    joined_at: str
    order_id: str | None = None


@dataclass
class GroupRecord:
    gid: str
    cid: str
    tid: str
    leader: str
    size: int
    price_fen: int
    members: int
    status: str
    opened_at: str
    deadline: str
    closed_at: str | None = None
    roster: list[Member] = field(default_factory=list)
    system_members: int = 0  # added by auto-fill when the group closed; counted in `members`, never on the roster
