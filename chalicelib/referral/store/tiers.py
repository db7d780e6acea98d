"""A person's membership tier as the join gate and the participant's view read it.

The loyalty slice, above this one, owns the tier (loyalty/store/tiers.py) and keeps on its `STATE` item
(`T#{tid}#TIER#{uid}`) what is read here: `tier`, `tier_name` and `at_least` (the tier held and every tier below
it). Reading that one item keeps referral from importing loyalty (docs/retention.md, "Tier-only campaigns"); a
tier held within its grace period still counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, unavailable_on_failure


@dataclass(frozen=True)
class HeldTier:
    tier: str
    name: str
    at_least: frozenset[str]


def held(tid: str, uid: str) -> HeldTier | None:
    """The tier the person holds in the tenant; None when none."""
    key = {"PK": {"S": keys.tier_pk(tid, uid)}, "SK": {"S": keys.TIER_STATE_SK}}
    with unavailable_on_failure("tier"):
        found = dynamodb_client().get_item(
            TableName=ensure_bound().table_name, Key=key, ConsistentRead=True,
            ProjectionExpression="tier, tier_name, at_least",
        )  # fmt: skip
    item = found.get("Item") or {}
    if "tier" not in item:
        return None
    tier = item["tier"]["S"]
    name = item.get("tier_name", {}).get("S", tier)
    return HeldTier(tier, name, frozenset(item.get("at_least", {}).get("SS", ())))
