"""Automation rules `trigger -> conditions -> actions`: their schema and the triggers a change fires.

Event triggers come from the table's stream (what the engine already writes); scheduled triggers
(inactivity, birthdays, group deadlines) are found by key by a schedule. Every firing has a
deterministic key, so a redelivered batch or a schedule that runs twice acts once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chalicelib.audience.rules.profiles import TAG_PATTERN
from chalicelib.campaigns.rules.spec import Reward
from chalicelib.messaging.rules.egress import sends_out
from chalicelib.table.images import (
    AssistImage,
    GroupImage,
    Image,
    OrderImage,
    ParticipantImage,
    RewardImage,
    TierImage,
)

EVENT_TRIGGERS = (
    "joined",
    "qualified",
    "milestone.reached",
    "reward.issued",
    "group.succeeded",
    "group.failed",
    "assist.completed",
    "order.paid",
    "tier_changed",
)
# `churn_risk`: the daily churn score brought the person to the tenant's alert level (docs/retention.md).
SCHEDULED_TRIGGERS = ("inactive", "birthday", "group.deadline", "churn_risk")
TRIGGERS = EVENT_TRIGGERS + SCHEDULED_TRIGGERS
PERSON_CHANNELS = ("console", "email", "sms", "wecom", "wechat")
ACTION_TYPES = ("send_message", "add_tag", "remove_tag", "call_webhook", "issue_reward")
MAX_AUTOMATIONS = 50
MAX_DELAY_MINUTES = 30 * 24 * 60
AUTOMATION_REWARD_PREFIX = "auto_"
_MILESTONE_RULE = re.compile(r"^m\d+$")
_LIVE_REWARD = frozenset({"issued", "claimed"})
# The images whose changes may fire a trigger (each names its tenant).
_FIRING_IMAGES = (ParticipantImage, RewardImage, GroupImage, AssistImage, OrderImage, TierImage)
# Facts about a person rather than one of their participants (`Firing.uid`): no campaign to filter on.
PERSON_TRIGGERS = frozenset({"inactive", "birthday", "tier_changed", "churn_risk"})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Trigger(_Strict):
    type: Literal[
        "joined", "qualified", "milestone.reached", "reward.issued", "group.succeeded", "group.failed",
        "assist.completed", "order.paid", "inactive", "birthday", "group.deadline", "tier_changed", "churn_risk",
    ]  # fmt: skip
    # Only this campaign's events (event triggers and group deadlines); every campaign when absent.
    campaign_id: str | None = Field(default=None, min_length=1, max_length=64)
    days: int | None = Field(default=None, ge=1, le=365, description="inactive: days since last seen")
    hours_before: int | None = Field(default=None, ge=1, le=72, description="group.deadline: lead time")

    @model_validator(mode="after")
    def _parameters(self) -> Trigger:
        if self.type == "inactive" and self.days is None:
            raise ValueError("an inactive trigger needs `days`")
        if self.type != "inactive" and self.days is not None:
            raise ValueError("`days` belongs to the inactive trigger")
        if self.type != "group.deadline" and self.hours_before is not None:
            raise ValueError("`hours_before` belongs to the group.deadline trigger")
        if self.type in PERSON_TRIGGERS and self.campaign_id is not None:
            raise ValueError(f"a {self.type} trigger is about the person, not one campaign")
        return self

    @property
    def lead_hours(self) -> int:
        return self.hours_before or 1


class SendMessage(_Strict):
    type: Literal["send_message"]
    channel: Literal["console", "email", "sms", "wecom", "wechat"]
    # A built-in template's name, or {"zh": "...", "en": "..."} with {nickname} {campaign} {progress}
    # {reward} {link} {unsubscribe} (docs/messaging.md).
    template: str | dict[str, str]


class AddTag(_Strict):
    type: Literal["add_tag"]
    tag: str = Field(pattern=TAG_PATTERN)


class RemoveTag(_Strict):
    type: Literal["remove_tag"]
    tag: str = Field(pattern=TAG_PATTERN)


class CallWebhook(_Strict):
    type: Literal["call_webhook"]
    url: str = Field(min_length=8, max_length=2048)


class IssueReward(_Strict):
    """A reward into the participant the trigger is about (or the person's latest campaign)."""

    type: Literal["issue_reward"]
    reward: Reward

    @model_validator(mode="after")
    def _unlimited(self) -> IssueReward:
        if self.reward.stock is not None or self.reward.code_pool:
            raise ValueError("an automation's reward has no stock or code pool (use a campaign milestone for those)")
        return self


ActionSpec = Annotated[SendMessage | AddTag | RemoveTag | CallWebhook | IssueReward, Field(discriminator="type")]


class AutomationCreate(_Strict):
    name: str = Field(min_length=1, max_length=80)
    enabled: bool = True
    trigger: Trigger
    conditions: str | None = Field(default=None, min_length=1, max_length=1000)
    delay_minutes: int = Field(default=0, ge=0, le=MAX_DELAY_MINUTES)
    actions: list[ActionSpec] = Field(min_length=1, max_length=5)


class AutomationUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    enabled: bool | None = None
    trigger: Trigger | None = None
    conditions: str | None = Field(default=None, max_length=1000)
    delay_minutes: int | None = Field(default=None, ge=0, le=MAX_DELAY_MINUTES)
    actions: list[ActionSpec] | None = Field(default=None, min_length=1, max_length=5)


@dataclass(frozen=True)
class Firing:
    """Something happened that rules may react to.

    `code` is the participant it is about (None for a group event, whose members are looked up); `uid` the
    person, for a fact about the person itself (a tier); `key` names the occurrence, so every rule acts on it once.
    """

    type: str
    tid: str
    cid: str
    key: str
    code: str | None = None
    gid: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    uid: str | None = None


def firings(entity: str, event: str, old: Image | None, new: Image | None) -> list[Firing]:
    """The triggers one stream change fires (pure: the change's images only)."""
    if event == "REMOVE" or not isinstance(new, _FIRING_IMAGES) or not new.tid:
        return []
    tid, cid = new.tid, new.cid
    out: list[Firing] = []
    if entity == "participant" and isinstance(new, ParticipantImage):
        before = old if isinstance(old, ParticipantImage) else None
        code = new.code
        if new.erasing_at or new.erased_at:
            return []
        # A held join fires once approved: until then it counts nowhere.
        was_in = event == "MODIFY" and (before.review if before else None) != "held"
        if new.review != "held" and not was_in:
            out.append(Firing("joined", tid, cid, f"joined|{code}", code=code))
        if new.qualified_at and not (before and before.qualified_at):
            out.append(Firing("qualified", tid, cid, f"qualified|{code}", code=code))
    elif entity == "reward" and isinstance(new, RewardImage):
        before_reward = old if isinstance(old, RewardImage) else None
        code, rule = new.code, new.rule
        rid = f"{cid}|{code}|{rule}"
        if new.status in _LIVE_REWARD and (before_reward.status if before_reward else None) not in _LIVE_REWARD:
            data = {"reward": new.name, "rule": rule}
            out.append(Firing("reward.issued", tid, cid, f"reward|{rid}", code=code, data=data))
        if event == "INSERT" and _MILESTONE_RULE.match(rule):
            out.append(Firing("milestone.reached", tid, cid, f"milestone|{rid}", code=code, data={"rule": rule}))
    elif entity == "group" and isinstance(new, GroupImage):
        before_group = old if isinstance(old, GroupImage) else None
        status, gid = new.status, new.gid
        if status in ("succeeded", "failed") and (before_group.status if before_group else None) != status:
            out.append(Firing(f"group.{status}", tid, cid, f"group|{gid}|{status}", gid=gid))
    elif entity == "assist" and isinstance(new, AssistImage):
        before_assist = old if isinstance(old, AssistImage) else None
        required = new.helpers_required
        if event == "MODIFY" and (before_assist.slots if before_assist else 0) < required <= new.slots:
            owner = new.owner
            out.append(Firing("assist.completed", tid, cid, f"assist|{cid}|{owner}", code=owner))
    elif entity == "order" and isinstance(new, OrderImage):
        before_order = old if isinstance(old, OrderImage) else None
        if new.status == "paid" and (before_order.status if before_order else None) != "paid" and new.buyer:
            oid = new.oid
            paid: dict[str, Any] = {"amount_fen": new.amount, "order_id": oid}
            out.append(Firing("order.paid", tid, cid, f"order|{tid}|{oid}", code=new.buyer, data=paid))
    elif entity == "tier" and isinstance(new, TierImage):
        before_tier = old.tier if isinstance(old, TierImage) else None
        before_rank = old.rank if isinstance(old, TierImage) else 0
        # A person's tier moved (up from the stream, down by the daily review); the change's time names it.
        if new.tier != before_tier and new.uid.startswith("u_"):
            moved = {
                "from": before_tier, "to": new.tier, "to_name": new.name, "rank": new.rank,
                "direction": "up" if new.rank > before_rank else "down",
            }  # fmt: skip
            key = f"tier|{tid}|{new.uid}|{new.changed_at}|{new.tier}"
            out.append(Firing("tier_changed", tid, "", key, uid=new.uid, data=moved))
    return out


def matches(trigger: Mapping[str, Any], firing: Firing) -> bool:
    return trigger.get("type") == firing.type and trigger.get("campaign_id") in (None, firing.cid)


def churn_occurrence(last_seen: str | None) -> str:
    """A `churn_risk` firing names the quiet spell (the person's last activity), as `inactive` does: one firing
    per crossing, and a person who comes back and slips away again is a new one."""
    return f"churn_risk|{last_seen or '-'}"


def run_key(aid: str, occurrence: str, uid: str) -> str:
    """One rule, one occurrence, one person: the id every action of that run derives from."""
    return hashlib.sha256(f"{aid}|{occurrence}|{uid}".encode()).hexdigest()[:32]


def egress(rule: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a rule (its stored or dumped form) sends out of Fission: the actions that do, and when and about whom
    (trigger and conditions); None when it is off or sends nothing out. Creating a rule whose egress is not None,
    or changing it, is the owner's decision (docs/messaging.md)."""
    out = [dict(action) for action in rule.get("actions") or () if sends_out(action)]
    if not rule.get("enabled", True) or not out:
        return None
    return {"trigger": rule.get("trigger"), "conditions": rule.get("conditions"), "actions": out}


def egress_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> list[str]:
    """The actions of `after` that make its egress new (all of them when the egress differs from `before`'s),
    named `actions[i].type`; empty when the change sends nothing anywhere new."""
    wanted = egress(after)
    if wanted is None or (before is not None and egress(before) == wanted):
        return []
    return [f"actions[{i}].{a['type']}" for i, a in enumerate(after.get("actions") or ()) if sends_out(a)]


def reward_rule(aid: str) -> str:
    """An automation's reward rule: (campaign, participant, rule) is issued once, like any reward."""
    return f"{AUTOMATION_REWARD_PREFIX}{aid}"
