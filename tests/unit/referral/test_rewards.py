"""Reward ids, claim and revoke rules, and grants drawn from a campaign's rules (pure)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules.spec import GroupBuyRules, Reward
from chalicelib.referral.rules import rewards


def test_a_reward_id_round_trips_through_code_and_rule() -> None:
    for rule in ("m1", "invitee", "assist", "leader:grp_1m86c1d533cys0q42b3"):
        assert rewards.parse_reward_id(rewards.reward_id("7kq2m9xa", rule)) == ("7kq2m9xa", rule)


BAD_IDS = ["", "7kq2m9xa", "7kq2m9xa-", "7kq2m9xa_m1", "7KQ2M9XA-m1", "7kq2m9ia-m1", "7kq2m9xa-M1", "7kq2m9xa-m1/../x"]


@pytest.mark.parametrize("rid", BAD_IDS)
def test_malformed_reward_ids_are_refused(rid: str) -> None:
    assert rewards.parse_reward_id(rid) is None


def test_only_issued_rewards_can_be_claimed_and_claimed_ones_not_revoked() -> None:
    assert rewards.claim_problem(rewards.ISSUED) is None
    assert rewards.claim_problem(rewards.PENDING) == "REWARD_PENDING"
    assert rewards.claim_problem(rewards.REVOKED) == "REWARD_REVOKED"
    assert rewards.claim_problem(rewards.UNAVAILABLE) == "REWARD_UNAVAILABLE"
    assert rewards.revoke_problem(rewards.ISSUED) is None
    assert rewards.revoke_problem(rewards.PENDING) is None
    assert rewards.revoke_problem(rewards.CLAIMED) == "REWARD_ALREADY_CLAIMED"


def test_a_leader_perk_is_granted_per_group_but_stocked_per_campaign() -> None:
    perk = {"type": "coupon", "name": "Leader", "value_fen": 500, "stock": 3, "code_pool": True}
    grant = rewards.grant_of("leader:grp_1", perk, limit_rule=rewards.LEADER_RULE)
    assert (grant.rule, grant.limits, grant.stock_limited, grant.code_pool) == ("leader:grp_1", "leader", True, True)
    assert rewards.grant_of("leader:grp_1", Reward.model_validate(perk), limit_rule=rewards.LEADER_RULE) == grant
    group_buy = {
        "product": {"sku": "S", "name": "P"},
        "original_price_fen": 1000,
        "tiers": [{"size": 2, "price_fen": 900}],
    }
    rules = GroupBuyRules.model_validate({**group_buy, "leader_perk": perk})
    assert rewards.reward_rules(rules) == {"leader": Reward.model_validate(perk)}


def test_decay_scales_value_and_points() -> None:
    grant = rewards.grant_of("m3", {"type": "points", "name": "P", "points": 101, "value_fen": 999}, percent=50)
    assert (grant.points, grant.value_fen, grant.limits) == (50, 499, "m3")


def test_only_coupons_draw_from_a_code_pool() -> None:
    Reward.model_validate({"type": "coupon", "name": "C", "code_pool": True})
    with pytest.raises(ValidationError, match="only a coupon reward"):
        Reward.model_validate({"type": "gift", "name": "G", "code_pool": True})


def test_gift_addresses_and_code_uploads_are_validated() -> None:
    address = {"name": "王小明", "phone": "13800138000", "province": "上海", "city": "上海", "line": "漕溪北路 88 号"}
    assert rewards.ClaimRequest.model_validate({"address": address}).address is not None
    with pytest.raises(ValidationError):
        rewards.ClaimRequest.model_validate({"address": {**address, "phone": "call me"}})
    with pytest.raises(ValidationError):
        rewards.CodesUpload.model_validate({"codes": []})
    with pytest.raises(ValidationError):
        rewards.CodesUpload.model_validate({"codes": ["ok", "not ok"]})
    with pytest.raises(ValidationError):
        rewards.CodesUpload.model_validate({"codes": ["A"] * (rewards.MAX_CODES_PER_UPLOAD + 1)})
