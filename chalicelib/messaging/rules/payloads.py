"""What each outbound event says: one model per event type's `data`, and the envelope every delivery POSTs.

Emitters build these models (`events.emit` takes nothing else) and scripts/gen_openapi_schemas.py writes them
into the `webhooks` section of docs/openapi.yaml, so the document describes exactly what is sent. A field that is
absent rather than null when it has no value is typed `X | SkipJsonSchema[None]` and left out of the body.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

RewardType = Literal["coupon", "points", "cash", "gift", "custom"]
EVENT_ID_PATTERN = r"^evt_[0-9a-f]{32}$"
TIMESTAMP = "ISO 8601 UTC, second precision, e.g. `2026-12-01T08:00:00Z`"


class EventData(BaseModel):
    """An event's `data`: closed (no field the document does not name) and fixed once built."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def body(self) -> dict[str, Any]:
        """The JSON object sent as the envelope's `data`; optional fields without a value are left out."""
        return self.model_dump(mode="json", exclude_none=True)


class _Reward(EventData):
    reward_id: str = Field(description="the reward's id, as the participant's `/me` and the claim route name it")
    campaign_id: str
    code: str = Field(description="the invite code of the participant who holds the reward")
    rule: str = Field(description="the campaign rule that granted it (`m1`, `invitee`, `leader:{group id}`, ...)")
    type: RewardType
    name: str


class RewardIssued(_Reward):
    """A reward was issued to a participant (a pooled coupon once its code is drawn)."""

    value_fen: int
    points: int
    coupon_code: str | SkipJsonSchema[None] = Field(default=None, description="a pooled coupon's code")


class DeliveryAddress(BaseModel):
    """Where a gift goes, as the participant gave it when claiming."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    phone: str
    province: str
    city: str
    district: str | SkipJsonSchema[None] = None
    line: str
    postcode: str | SkipJsonSchema[None] = None


class RewardClaimed(_Reward):
    """A participant claimed a reward (sent again for a repeated claim: dedupe on the event id)."""

    claimed_at: str = Field(description=TIMESTAMP)
    address: DeliveryAddress | SkipJsonSchema[None] = Field(default=None, description="only for a gift")


class RewardRevoked(_Reward):
    """An operator took a reward back; its stock and budget return."""

    reason: str = Field(description="the operator's reason")
    revoked_at: str = Field(description=TIMESTAMP)


class MilestoneReached(EventData):
    """A participant's counted invites reached a ladder milestone (its reward is issued separately)."""

    campaign_id: str
    code: str = Field(description="the participant's invite code")
    milestone: str = Field(description="the milestone's rule (`m1`, `m2`, ...)")
    counted_invites: int


class GroupSucceeded(EventData):
    """A group filled up."""

    group_id: str
    campaign_id: str
    leader: str = Field(description="the leader's invite code")
    members: int = Field(description="the group's size, every seat taken")
    system_members: int = Field(default=0, description="seats filled by the campaign itself, not by participants")


class GroupFailed(EventData):
    """A group closed without filling up: the merchant refunds the paid members' orders."""

    group_id: str
    campaign_id: str
    leader: str = Field(description="the leader's invite code")
    refunds: list[str] = Field(description="the order ids of the members who paid")
    reason: Literal["deadline", "campaign_ended"] = Field(
        default="deadline", description="the group's deadline passed, or its campaign ended first"
    )


class Commission(EventData):
    """One commission ledger entry of an order: earned when it is paid, clawed back (negative) when refunded."""

    campaign_id: str
    order_id: str
    level: int = Field(description="1 for the buyer's inviter, 2 for that participant's inviter")
    code: str = Field(description="the earner's invite code")
    amount_fen: int = Field(description="positive when earned, negative when clawed back")
    available_at: str = Field(description=f"when the commission becomes available: {TIMESTAMP}")


PAYLOADS: dict[str, type[EventData]] = {
    "reward.issued": RewardIssued,
    "reward.claimed": RewardClaimed,
    "reward.revoked": RewardRevoked,
    "milestone.reached": MilestoneReached,
    "group.succeeded": GroupSucceeded,
    "group.failed": GroupFailed,
    "commission.earned": Commission,
    "commission.clawed_back": Commission,
}


class Envelope(BaseModel):
    """The body POSTed to an endpoint: which event, when it was queued, and its `data`."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=EVENT_ID_PATTERN, description="the event id, also in `X-Fission-Event-Id`: dedupe on it")
    type: str = Field(description="the event type")
    created_at: str = Field(description=f"when the event was queued: {TIMESTAMP}")
    data: dict[str, Any]


def check(event_type: str, data: EventData) -> None:
    """Refuse an event type without a model, or data built from another type's model."""
    model = PAYLOADS.get(event_type)
    if model is None:
        raise ValueError(f"unknown event type {event_type!r}")
    if type(data) is not model:
        raise TypeError(f"{event_type} takes {model.__name__}, not {type(data).__name__}")
