"""Which rewards a participant has earned on a ladder, and what each is worth (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

INVITEE_RULE = "invitee"
ASSIST_RULE = "assist"  # an assist owner's prize: one per participant, like every rule


@dataclass(frozen=True)
class Grant:
    """A reward to issue: `rule` is stable per campaign, so (participant, rule) happens once."""

    rule: str
    type: str
    name: str
    value_fen: int
    points: int
    stock_limited: bool


def milestone_rule(index: int) -> str:
    return f"m{index + 1}"


def _grant(rule: str, reward: dict[str, Any], percent: int = 100) -> Grant:
    return Grant(
        rule=rule,
        type=str(reward["type"]),
        name=str(reward["name"]),
        value_fen=int(reward.get("value_fen", 0)) * percent // 100,
        points=int(reward.get("points", 0)) * percent // 100,
        stock_limited=reward.get("stock") is not None,
    )


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
        grants.append(_grant(rule, milestone["reward"], percent))
    return grants


def invitee_grant(rules: dict[str, Any]) -> Grant | None:
    """The double-sided reward an invitee gets when their invite counts, if the campaign has one."""
    reward = rules.get("invitee_reward")
    return _grant(INVITEE_RULE, reward) if reward else None


def reward_rules(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every reward of a campaign (ladder, invitee reward, assist prize) by its rule id (stock is per rule)."""
    found = {milestone_rule(i): m["reward"] for i, m in enumerate(rules.get("milestones") or [])}
    if rules.get("invitee_reward"):
        found[INVITEE_RULE] = rules["invitee_reward"]
    if rules.get("prize"):
        found[ASSIST_RULE] = rules["prize"]
    return found
