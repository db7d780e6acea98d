"""Fraud signals: the score, the decision, the policy, the chain check and the phone ranges."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules import fraud_policy as policy
from chalicelib.campaigns.rules.fraud_policy import FraudPolicy
from chalicelib.campaigns.rules.spec import parse_spec, policy_of
from chalicelib.referral.rules import fraud
from chalicelib.referral.rules.fraud import Node, Signal
from tests.conftest import campaign_body


def test_score_sums_distinct_codes_capped_at_100() -> None:
    found = fraud.score([Signal(policy.SHARED_IP), Signal(policy.SHARED_IP), Signal(policy.REFERRAL_CLUSTER, "x")])
    assert found.score == 80
    assert [r["code"] for r in found.reasons] == [policy.REFERRAL_CLUSTER, policy.SHARED_IP]
    many = fraud.score([Signal(code) for code in policy.CODES])
    assert many.score == 100
    assert fraud.score([]).score == 0


def test_weights_can_be_overridden_and_zero_drops_the_reason() -> None:
    found = fraud.score([Signal(policy.SHARED_IP), Signal(policy.BONUS_HUNTER)], {policy.SHARED_IP: 0})
    assert (found.score, [r["code"] for r in found.reasons]) == (50, [policy.BONUS_HUNTER])


@pytest.mark.parametrize(
    ("value", "expected"), [(0, "allow"), (59, "allow"), (60, "hold"), (89, "hold"), (90, "block")]
)
def test_decide_by_the_default_policy(value: int, expected: str) -> None:
    assert fraud.decide(value) == expected


def test_policy_validation() -> None:
    assert policy_of(parse_spec(campaign_body())) == policy.DEFAULT_POLICY
    assert policy_of(parse_spec(campaign_body(fraud={"block_at": 101}))).block_at == 101
    with pytest.raises(ValidationError):
        FraudPolicy.model_validate({"hold_at": 80, "block_at": 70})
    with pytest.raises(ValidationError):
        FraudPolicy.model_validate({"weights": {"NOT_A_CODE": 10}})
    with pytest.raises(ValidationError):
        FraudPolicy.model_validate({"velocity": {"ip_per_minute": policy.MAX_WINDOW_MEMBERS + 1}})


def test_velocity_fires_past_the_limit() -> None:
    counts = {("ip", "minute"): 9, ("ip", "day"): 9, ("inviter", "minute"): 10}
    found = fraud.velocity_signals(counts, FraudPolicy(), {"ip": "h", "inviter": "c"})
    assert [s.code for s in found] == [policy.VELOCITY_INVITER]


def test_a_chain_tied_by_a_device_is_a_cluster_but_a_shared_router_alone_is_not() -> None:
    joiner = Node("j", device="d1", ip="ip")
    chain = [Node("a", device="d2", ip="ip"), Node("b", device="d1", ip="ip")]
    found = fraud.cluster_signal(joiner, chain, 3)
    assert found is not None and found.code == policy.REFERRAL_CLUSTER and "a,b" in found.detail
    household = [Node("a", device="d2", ip="ip"), Node("b", device="d3", ip="ip")]
    assert fraud.cluster_signal(Node("j", device="d1", ip="ip"), household, 3) is None
    assert fraud.cluster_signal(joiner, chain[:1], 3) is None


def test_lineage_is_bounded() -> None:
    entries = [{"c": f"c{i}"} for i in range(5)]
    assert [e["c"] for e in fraud.lineage(Node("p", ip="x"), entries)] == ["p", "c0", "c1", "c2", "c3"]


def test_virtual_operator_prefixes_from_the_data_file() -> None:
    assert set(fraud.virtual_operator_prefixes()) >= {"170", "171", "162", "165", "167"}
    assert fraud.virtual_operator("17012345678") == "170"
    assert fraud.virtual_operator("13812345678") is None
    assert fraud.virtual_operator("170123") is None


def test_bonus_hunter() -> None:
    assert fraud.bonus_hunter(3, 0) is not None
    assert fraud.bonus_hunter(3, 1) is None
    assert fraud.bonus_hunter(2, 0) is None


def test_windows() -> None:
    assert fraud.window_start(125, "minute") == 120
    assert fraud.window_start(90_000, "day") == 86_400


def test_a_window_closes_after_its_end_and_a_grace() -> None:
    assert not fraud.window_closed(120, "minute", 120 + 60 + 300)
    assert fraud.window_closed(120, "minute", 120 + 60 + 301)
    assert not fraud.window_closed(0, "day", 86_400)
