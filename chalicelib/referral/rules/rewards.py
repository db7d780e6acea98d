"""Which rewards a participant has earned on a ladder, and what each is worth (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

INVITEE_RULE = "invitee"
ASSIST_RULE = "assist"  # an assist owner's prize: one per participant, like every rule
LEADER_RULE = "leader"  # a group leader's perk: one per group, so its grant rule names the group
RULE_PATTERN = r"^[a-z0-9_]{1,24}(:[a-z0-9_]{1,40})?$"
CODE_LENGTH = 8

# A reward's life. `pending`: earned, waiting for a coupon code; `unavailable`: never issued
# (stock or budget ran out); `claimed` and `revoked` are final.
PENDING, ISSUED, CLAIMED, REVOKED, UNAVAILABLE = "pending", "issued", "claimed", "revoked", "unavailable"


@dataclass(frozen=True)
class Grant:
    """A reward to issue: `rule` is stable per campaign, so (participant, rule) happens once."""

    rule: str
    type: str
    name: str
    value_fen: int
    points: int
    stock_limited: bool
    code_pool: bool = False
    # The campaign rule whose stock and code pool this grant draws on, when it differs from
    # `rule` (a leader perk is granted per group but stocked once per campaign).
    limit_rule: str | None = None
    # What it costs the merchant, charged to the budget, when that is not its face value (a deal at
    # a floor price is worth the price to the buyer and costs the merchant the discount).
    cost_fen: int | None = None

    @property
    def limits(self) -> str:
        return self.limit_rule or self.rule

    @property
    def cost(self) -> int:
        return self.value_fen if self.cost_fen is None else self.cost_fen


def milestone_rule(index: int) -> str:
    return f"m{index + 1}"


def grant_of(rule: str, reward: Mapping[str, Any], percent: int = 100, limit_rule: str | None = None) -> Grant:
    """The grant of one reward of the campaign's rules, at `percent` of its face value."""
    return Grant(
        rule=rule,
        type=str(reward["type"]),
        name=str(reward["name"]),
        value_fen=int(reward.get("value_fen", 0)) * percent // 100,
        points=int(reward.get("points", 0)) * percent // 100,
        stock_limited=reward.get("stock") is not None,
        code_pool=bool(reward.get("code_pool", False)),
        limit_rule=limit_rule,
    )


def reward_id(code: str, rule: str) -> str:
    """The public id of a reward: the participant's code and the rule, which also make its key."""
    return f"{code}-{rule}"


def parse_reward_id(rid: str) -> tuple[str, str] | None:
    """(participant code, rule) of a public reward id, or None when it cannot be one."""
    code, dash, rule = rid[:CODE_LENGTH], rid[CODE_LENGTH : CODE_LENGTH + 1], rid[CODE_LENGTH + 1 :]
    if dash != "-" or not re.fullmatch(r"[0-9a-hjkmnp-tv-z]{8}", code) or not re.fullmatch(RULE_PATTERN, rule):
        return None
    return code, rule


def claim_problem(status: str) -> str | None:
    """Why a reward in `status` cannot be claimed (an error code), or None when it can."""
    return {
        PENDING: "REWARD_PENDING",
        UNAVAILABLE: "REWARD_UNAVAILABLE",
        REVOKED: "REWARD_REVOKED",
    }.get(status)


def revoke_problem(status: str) -> str | None:
    """Why a reward in `status` cannot be revoked, or None: a claimed reward is already in the
    participant's hands (a coupon code seen, a parcel on its way)."""
    return {CLAIMED: "REWARD_ALREADY_CLAIMED", UNAVAILABLE: "REWARD_UNAVAILABLE"}.get(status)


def ladder_grants(rules: dict[str, Any], counted: int, already: set[str]) -> list[Grant]:
    """Milestones reached by `counted` invites (after the per-participant cap) not yet granted.

    Decay: milestones beyond `after_invites` pay `percent` of their face value.
    """
    cap = rules.get("per_participant_cap")
    effective = min(counted, int(cap)) if cap else counted
    decay = rules.get("decay") or {}
    grants = []
    for index, milestone in enumerate(rules.get("milestones") or []):
        rule = milestone_rule(index)
        threshold = int(milestone["invites"])
        if threshold > effective or rule in already:
            continue
        percent = int(decay["percent"]) if decay and threshold > int(decay["after_invites"]) else 100
        grants.append(grant_of(rule, milestone["reward"], percent))
    return grants


def invitee_grant(rules: dict[str, Any]) -> Grant | None:
    """The double-sided reward an invitee gets when their invite counts, if the campaign has one."""
    reward = rules.get("invitee_reward")
    return grant_of(INVITEE_RULE, reward) if reward else None


def reward_rules(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every reward of a campaign (ladder, invitee reward, assist prize) by its rule id (stock is per rule)."""
    found = {milestone_rule(i): m["reward"] for i, m in enumerate(rules.get("milestones") or [])}
    if rules.get("invitee_reward"):
        found[INVITEE_RULE] = rules["invitee_reward"]
    if rules.get("prize"):
        found[ASSIST_RULE] = rules["prize"]
    if rules.get("leader_perk"):
        found[LEADER_RULE] = rules["leader_perk"]
    return found


# --- requests -------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Address(_Strict):
    """Where a physical gift goes. Stored encrypted; the merchant receives it with `reward.claimed`."""

    name: str = Field(min_length=1, max_length=40)
    phone: str = Field(min_length=6, max_length=24, pattern=r"^\+?[0-9][0-9 \-]{5,22}$")
    province: str = Field(min_length=1, max_length=40)
    city: str = Field(min_length=1, max_length=40)
    district: str | None = Field(default=None, max_length=40)
    line: str = Field(min_length=1, max_length=200)
    postcode: str | None = Field(default=None, max_length=12, pattern=r"^[0-9A-Za-z \-]+$")


class ClaimRequest(_Strict):
    """A participant claims a reward: gifts need the delivery address; other types take nothing."""

    address: Address | None = None


MAX_CODES_PER_UPLOAD = 1000


class CodesUpload(_Strict):
    """Coupon codes for one reward's pool, as the merchant's coupon system generated them."""

    codes: list[Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")]] = Field(
        min_length=1, max_length=MAX_CODES_PER_UPLOAD
    )


class RevokeRequest(_Strict):
    reason: str = Field(min_length=1, max_length=200)
