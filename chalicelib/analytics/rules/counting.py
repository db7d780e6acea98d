"""What each stored fact adds to the analytics counters (pure; docs/analytics.md).

A stream change becomes a list of `Contribution`s: a metric, the channel and experiment variant it
belongs to, an amount, and the moment it happened (which picks the campaign day). The stream
handler sums them per (campaign, day) and writes one update per day item.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.core.clock import parse_iso
from chalicelib.table.images import (
    BeaconImage,
    ClickImage,
    CommissionImage,
    Image,
    OrderImage,
    ParticipantImage,
    RewardImage,
)

NONE = "-"  # no channel, or no variant
BEACON_METRICS = {"view": "view", "share": "share", "click": "ui_click", "custom": "custom"}
COUNTED_STATUSES = frozenset({"issued", "pending"})  # a pending reward is owed: its cost is committed
HELD, APPROVED = "held", "approved"  # a participant's review states (docs/fraud.md)


@dataclass(frozen=True)
class Contribution:
    metric: str
    amount: int
    at: str  # ISO time of the fact
    channel: str | None = None
    variant: str | None = None
    histogram: str | None = None  # a histogram name; `metric` is then the bucket

    def attribute(self) -> str:
        """The counter attribute this contribution adds to."""
        if self.histogram is not None:
            return f"h|{self.histogram}|{self.metric}"
        return f"n|{self.metric}|{self.channel or NONE}|{self.variant or NONE}"


def _minutes(start: str | None, end: str | None) -> int | None:
    if not start or not end:
        return None
    return max(int((parse_iso(end) - parse_iso(start)).total_seconds()) // 60, 0)


def _qualified(new: ParticipantImage, at: str) -> list[Contribution]:
    """An invitee that counts for its inviter now: a qualified invite, and its cycle time."""
    found = [Contribution("qualified", 1, at, new.channel, new.variant)]
    minutes = _minutes(new.inviter_joined_at, new.qualified_at)
    if minutes is not None:
        found.append(Contribution(str(minutes), 1, at, histogram="cycle"))
    return found


def _joined(new: ParticipantImage) -> list[Contribution]:
    """A join that counts: the join, its generation, and an invited one's invite (qualified, if it is)."""
    at, channel, variant = new.joined_at, new.channel, new.variant
    found = [
        Contribution("join", 1, at, channel, variant),
        Contribution(f"depth:{new.depth or 0}", 1, at, None, variant),
    ]
    if new.inviter:
        found.append(Contribution("invited_join", 1, at, channel, variant))
        if new.qualified_at:
            found += _qualified(new, new.qualified_at)
    return found


def participant(event: str, old: ParticipantImage | None, new: ParticipantImage, now: str) -> list[Contribution]:
    """A held join counts nowhere until an operator approves it; then it counts on its join day, once (the
    one change from `held` to `approved`). A rejected one never counts (docs/fraud.md)."""
    channel, variant = new.channel, new.variant
    found: list[Contribution] = []
    if event == "INSERT":
        return [] if new.review == HELD else _joined(new)
    if event != "MODIFY":
        return found
    if old is not None and old.review == HELD and new.review == APPROVED:
        found += _joined(new)  # with its qualification, when it had qualified while held
    elif new.inviter and new.qualified_at and not (old and old.qualified_at):
        found += _qualified(new, new.qualified_at)
    before, after = len(old.counted) if old else 0, len(new.counted)
    if after > before:
        if before == 0:
            found.append(Contribution("activated", 1, now, channel, variant))
        # Sum of squares of qualified invitees per inviter: with the sum it gives the offspring variance.
        found.append(Contribution("offspring_sq", after * after - before * before, now, channel, variant))
    return found


def order(event: str, old: OrderImage | None, new: OrderImage) -> list[Contribution]:
    """Paid orders convert and earn revenue; a refund takes the revenue back (revenue is net)."""
    channel, variant, amount = new.channel, new.variant, new.amount
    invited = new.invited
    found: list[Contribution] = []
    if event == "INSERT" and new.status == "paid":
        at = new.paid_at
        found += [
            Contribution("converted", 1, at, channel, variant),
            Contribution("revenue_fen", amount, at, channel, variant),
        ]
        if invited:
            found.append(Contribution("attributed_revenue_fen", amount, at, channel, variant))
    elif event == "MODIFY" and old is not None and old.status == "paid" and new.status == "refunded":
        at = new.refunded_at or new.paid_at
        found += [
            Contribution("refunds", 1, at, channel, variant),
            Contribution("refunded_fen", amount, at, channel, variant),
            Contribution("revenue_fen", -amount, at, channel, variant),
        ]
        if invited:
            found.append(Contribution("attributed_revenue_fen", -amount, at, channel, variant))
    return found


def reward(event: str, old: RewardImage | None, new: RewardImage) -> list[Contribution]:
    """A reward costs from when it is owed (issued or pending) until it is revoked, in the channel of the participant
    it rewards (budget stop-loss lines per channel read it)."""
    cost = new.cost_fen if new.cost_fen is not None else new.value_fen
    before = old is not None and old.status in COUNTED_STATUSES if event == "MODIFY" else False
    after = new.status in COUNTED_STATUSES
    channel = new.channel
    if after and not before:
        at = new.created_at
        return [Contribution("rewards", 1, at, channel), Contribution("reward_cost_fen", cost, at, channel)]
    if before and not after and new.status == "revoked":
        at = new.revoked_at or new.created_at
        return [Contribution("rewards", -1, at, channel), Contribution("reward_cost_fen", -cost, at, channel)]
    return []


def contributions(entity: str, event: str, old: Image | None, new: Image | None, now: str) -> list[Contribution]:
    """Everything one change adds; facts of other entities add nothing, and neither does a removal
    (no new image)."""
    if entity == "participant" and isinstance(new, ParticipantImage):
        return participant(event, old if isinstance(old, ParticipantImage) else None, new, now)
    if event == "INSERT" and entity == "click" and isinstance(new, ClickImage):
        return [Contribution("click", 1, new.at, new.channel)]
    if event == "INSERT" and entity == "beacon" and isinstance(new, BeaconImage):
        return [Contribution(BEACON_METRICS[new.type], 1, new.at, new.channel)]
    if entity == "order" and isinstance(new, OrderImage):
        return order(event, old if isinstance(old, OrderImage) else None, new)
    if entity == "reward" and isinstance(new, RewardImage):
        return reward(event, old if isinstance(old, RewardImage) else None, new)
    if event == "INSERT" and entity == "commission" and isinstance(new, CommissionImage):
        return [Contribution("commission_fen", new.amount_fen, new.created_at)]
    return []


def local_day(at: str, zone: Any) -> str:
    """The campaign day (YYYY-MM-DD in its time zone) a fact at `at` belongs to."""
    moment: datetime = parse_iso(at).astimezone(zone)
    return moment.strftime("%Y-%m-%d")


KNOWN_CHANNELS = (
    "wechat_moments", "wechat_group", "wechat_friend", "douyin", "xiaohongshu", "sms", "qr_offline", "link",
)  # fmt: skip
INVALID_EVENT = "n|dq_invalid_event|-|-"


class BeaconRequest(BaseModel):
    """A landing page's beacon. Channels are open strings (KNOWN_CHANNELS are the ones the console names)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    type: Literal["view", "share", "click", "custom"]
    channel: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")
    name: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")

    @model_validator(mode="after")
    def _named_custom(self) -> BeaconRequest:
        if self.type == "custom" and not self.name:
            raise ValueError("a custom event needs a name")
        if self.type != "custom" and self.name:
            raise ValueError("only a custom event takes a name")
        return self
