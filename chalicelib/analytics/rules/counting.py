"""What each stored fact adds to the analytics counters (pure; docs/analytics.md).

A stream change becomes a list of `Contribution`s: a metric, the channel and experiment variant it
belongs to, an amount, and the moment it happened (which picks the campaign day). The stream
handler sums them per (campaign, day) and writes one update per day item.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.core.clock import parse_iso

NONE = "-"  # no channel, or no variant
BEACON_METRICS = {"view": "view", "share": "share", "click": "ui_click", "custom": "custom"}
COUNTED_STATUSES = frozenset({"issued", "pending"})  # a pending reward is owed: its cost is committed


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


def _qualified(new: Mapping[str, Any], at: str) -> list[Contribution]:
    """An invitee that counts for its inviter now: a qualified invite, and its cycle time."""
    found = [Contribution("qualified", 1, at, new.get("channel"), new.get("variant"))]
    minutes = _minutes(new.get("inviter_joined_at"), new.get("qualified_at"))
    if minutes is not None:
        found.append(Contribution(str(minutes), 1, at, histogram="cycle"))
    return found


def participant(event: str, old: Mapping[str, Any], new: Mapping[str, Any], now: str) -> list[Contribution]:
    channel, variant = new.get("channel"), new.get("variant")
    found: list[Contribution] = []
    if event == "INSERT":
        at = str(new["joined_at"])
        found.append(Contribution("join", 1, at, channel, variant))
        found.append(Contribution(f"depth:{int(new.get('depth') or 0)}", 1, at, None, variant))
        if new.get("inviter"):
            found.append(Contribution("invited_join", 1, at, channel, variant))
            if new.get("qualified_at"):
                found += _qualified(new, str(new["qualified_at"]))
        return found
    if event != "MODIFY":
        return found
    if new.get("inviter") and new.get("qualified_at") and not old.get("qualified_at"):
        found += _qualified(new, str(new["qualified_at"]))
    before, after = len(old.get("counted") or ()), len(new.get("counted") or ())
    if after > before:
        if before == 0:
            found.append(Contribution("activated", 1, now, channel, variant))
        # Sum of squares of qualified invitees per inviter: with the sum it gives the offspring variance.
        found.append(Contribution("offspring_sq", after * after - before * before, now, channel, variant))
    return found


def order(event: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Contribution]:
    """Paid orders convert and earn revenue; a refund takes the revenue back (revenue is net)."""
    channel, variant, amount = new.get("channel"), new.get("variant"), int(new.get("amount") or 0)
    invited = bool(new.get("invited"))
    found: list[Contribution] = []
    if event == "INSERT" and new.get("status") == "paid":
        at = str(new["paid_at"])
        found += [
            Contribution("converted", 1, at, channel, variant),
            Contribution("revenue_fen", amount, at, channel, variant),
        ]
        if invited:
            found.append(Contribution("attributed_revenue_fen", amount, at, channel, variant))
    elif event == "MODIFY" and old.get("status") == "paid" and new.get("status") == "refunded":
        at = str(new.get("refunded_at") or new.get("paid_at"))
        found += [
            Contribution("refunds", 1, at, channel, variant),
            Contribution("refunded_fen", amount, at, channel, variant),
            Contribution("revenue_fen", -amount, at, channel, variant),
        ]
        if invited:
            found.append(Contribution("attributed_revenue_fen", -amount, at, channel, variant))
    return found


def reward(event: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Contribution]:
    """A reward costs from when it is owed (issued or pending) until it is revoked."""
    raw = new.get("cost_fen") if new.get("cost_fen") is not None else new.get("value_fen")
    cost = int(raw or 0)
    before = old.get("status") in COUNTED_STATUSES if event == "MODIFY" else False
    after = new.get("status") in COUNTED_STATUSES
    if after and not before:
        at = str(new.get("created_at"))
        return [Contribution("rewards", 1, at), Contribution("reward_cost_fen", cost, at)]
    if before and not after and new.get("status") == "revoked":
        at = str(new.get("revoked_at") or new.get("created_at"))
        return [Contribution("rewards", -1, at), Contribution("reward_cost_fen", -cost, at)]
    return []


def contributions(
    entity: str, event: str, old: Mapping[str, Any], new: Mapping[str, Any], now: str
) -> list[Contribution]:
    """Everything one change adds; facts of other entities add nothing."""
    if entity == "participant":
        return participant(event, old, new, now)
    if event == "INSERT" and entity == "click":
        return [Contribution("click", 1, str(new["at"]), new.get("channel"))]
    if event == "INSERT" and entity == "beacon":
        return [Contribution(BEACON_METRICS[str(new["type"])], 1, str(new["at"]), new.get("channel"))]
    if entity == "order":
        return order(event, old, new)
    if entity == "reward":
        return reward(event, old, new)
    if event == "INSERT" and entity == "commission":
        return [Contribution("commission_fen", int(new.get("amount_fen") or 0), str(new["created_at"]))]
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
