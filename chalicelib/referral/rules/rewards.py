"""Which rewards a participant has earned on a ladder, and what each is worth (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.campaigns.rules.spec import AssistRules, CampaignRules, GroupBuyRules, LadderRules, Reward
from chalicelib.core.codes import Code

INVITEE_RULE = "invitee"
ASSIST_RULE = "assist"  # an assist owner's prize: one per participant, like every rule
LEADER_RULE = "leader"  # a group leader's perk: one per group, so its grant rule names the group
RULE_PATTERN = r"^[a-z0-9_]{1,24}(:[a-z0-9_]{1,40})?$"
CODE_LENGTH = 8

# A reward's life. `pending_release`: earned, held for the merchant's veto (a delay, the validation callback, an
# operator's approval: rules/release.py); `pending`: earned, waiting for a coupon code; `unavailable`: never issued
# (stock or budget ran out); `claimed`, `revoked` and `voided` (vetoed while held) are final.
PENDING, ISSUED, CLAIMED, REVOKED, UNAVAILABLE = "pending", "issued", "claimed", "revoked", "unavailable"
PENDING_RELEASE, VOIDED = "pending_release", "voided"


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


def grant_of(rule: str, reward: Reward | Mapping[str, Any], percent: int = 100, limit_rule: str | None = None) -> Grant:
    """The grant of one reward, at `percent` of its face value: a reward of the campaign's rules, or one
    stored as JSON of its own (an automation's action)."""
    if isinstance(reward, Reward):
        return Grant(
            rule=rule,
            type=reward.type,
            name=reward.name,
            value_fen=reward.value_fen * percent // 100,
            points=reward.points * percent // 100,
            stock_limited=reward.stock is not None,
            code_pool=reward.code_pool,
            limit_rule=limit_rule,
        )
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
        PENDING: Code.REWARD_PENDING,
        PENDING_RELEASE: Code.REWARD_PENDING_RELEASE,
        UNAVAILABLE: Code.REWARD_UNAVAILABLE,
        REVOKED: Code.REWARD_REVOKED,
        VOIDED: Code.REWARD_VOIDED,
    }.get(status)


def revoke_problem(status: str) -> str | None:
    """Why a reward in `status` cannot be revoked, or None: a claimed reward is already in the
    participant's hands (a coupon code seen, a parcel on its way)."""
    return {
        CLAIMED: Code.REWARD_ALREADY_CLAIMED,
        UNAVAILABLE: Code.REWARD_UNAVAILABLE,
        VOIDED: Code.REWARD_VOIDED,
    }.get(status)


def ladder_grants(rules: LadderRules, counted: int, already: set[str]) -> list[Grant]:
    """Milestones reached by `counted` invites (after the per-participant cap) not yet granted.

    Decay: milestones beyond `after_invites` pay `percent` of their face value.
    """
    cap = rules.per_participant_cap
    effective = min(counted, cap) if cap else counted
    decay = rules.decay
    grants = []
    for index, milestone in enumerate(rules.milestones):
        rule = milestone_rule(index)
        threshold = milestone.invites
        if threshold > effective or rule in already:
            continue
        percent = decay.percent if decay is not None and threshold > decay.after_invites else 100
        grants.append(grant_of(rule, milestone.reward, percent))
    return grants


def invitee_grant(rules: CampaignRules) -> Grant | None:
    """The double-sided reward an invitee gets when their invite counts, if the campaign has one."""
    reward = rules.invitee_reward if isinstance(rules, LadderRules) else None
    return grant_of(INVITEE_RULE, reward) if reward is not None else None


def reward_rules(rules: CampaignRules) -> dict[str, Reward]:
    """Every reward of a campaign (ladder, invitee reward, assist prize, leader perk) by its rule id
    (stock is per rule)."""
    found: dict[str, Reward] = {}
    if isinstance(rules, LadderRules):
        found.update({milestone_rule(i): m.reward for i, m in enumerate(rules.milestones)})
        if rules.invitee_reward is not None:
            found[INVITEE_RULE] = rules.invitee_reward
    if isinstance(rules, AssistRules) and rules.prize is not None:
        found[ASSIST_RULE] = rules.prize
    if isinstance(rules, GroupBuyRules) and rules.leader_perk is not None:
        found[LEADER_RULE] = rules.leader_perk
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
