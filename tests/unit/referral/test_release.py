"""The merchant's veto (pure): which rewards are held, what the merchant's answer means, retries and the default."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules.spec import parse_spec
from chalicelib.core.reasons import ReasonCode
from chalicelib.referral.rules import release, rewards

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def spec(**veto: Any) -> Any:
    document = {
        "mode": "invite", "title": "t", "starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-20T00:00:00Z",
        "rules": {"milestones": [{"invites": 1, "reward": {"type": "coupon", "name": "c", "value_fen": 500}}]},
        **veto,
    }  # fmt: skip
    return parse_spec(document)


def test_a_campaign_without_a_veto_holds_nothing() -> None:
    assert release.hold_of(spec(), 10_000_000, NOW) is None
    assert release.hold_of(spec(approval_above_fen=500), 500, NOW) is None  # not above the limit


def test_a_hold_starts_after_the_delay_and_asks_for_approval_above_the_limit() -> None:
    assert release.hold_of(spec(reward_delay_hours=48), 100, NOW) == release.Hold("2026-12-03T08:00:00Z", None)
    assert release.hold_of(spec(validation_url="https://shop.example.cn/v"), 100, NOW) == release.Hold(
        "2026-12-01T08:00:00Z", None
    )
    assert release.hold_of(spec(approval_above_fen=500), 501, NOW) == release.Hold("2026-12-01T08:00:00Z", "required")


@pytest.mark.parametrize("bad", [{"reward_delay_hours": -1}, {"reward_delay_hours": 721},
                                 {"validation_default": "maybe"}, {"approval_above_fen": -1}])  # fmt: skip
def test_veto_settings_out_of_range_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        spec(**bad)


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b"", release.Verdict("issue")),
        (204, b"not json", release.Verdict("issue")),
        (200, b'{"existing_customer": true}', release.Verdict("void", release.EXISTING_CUSTOMER_TEXT,
                                                               ReasonCode.EXISTING_CUSTOMER)),
        (409, b'{"reason": "  refunded\\n order  "}', release.Verdict("void", "refunded order",
                                                                   ReasonCode.MERCHANT_REJECTED)),
        (400, b"[1, 2]", release.Verdict("void", release.REFUSED_TEXT, ReasonCode.MERCHANT_REJECTED)),
        (302, b"", release.Verdict("void", release.REFUSED_TEXT, ReasonCode.MERCHANT_REJECTED)),
        (404, b'{"existing_customer": true}', release.Verdict("void", release.EXISTING_CUSTOMER_TEXT,
                                                               ReasonCode.EXISTING_CUSTOMER)),
        (500, b'{"reason": "down"}', release.Verdict("retry")),
        (429, b"", release.Verdict("retry")),
        (None, b"", release.Verdict("retry")),
    ],
)  # fmt: skip
def test_the_merchants_answer_decides(status: int | None, body: bytes, expected: release.Verdict) -> None:
    assert release.verdict(status, body) == expected


def test_a_refusals_reason_is_bounded() -> None:
    found = release.verdict(422, ('{"reason": "' + "x" * 1000 + '"}').encode())
    assert found.reason == "x" * release.MAX_REASON_LENGTH


def test_unanswered_calls_retry_with_growing_backoff_then_follow_the_default() -> None:
    delays = [release.backoff_seconds(n) for n in range(1, 10)]
    assert delays[:3] == [60, 120, 240] and delays[-1] == release.MAX_DELAY_SECONDS
    assert all(b >= a for a, b in zip(delays, delays[1:], strict=False))
    for attempts in range(1, release.MAX_ATTEMPTS):
        assert release.after_failure(attempts, "void").outcome == "retry"
    assert release.after_failure(release.MAX_ATTEMPTS, "issue") == release.Verdict("issue")
    assert release.after_failure(release.MAX_ATTEMPTS, "void") == release.Verdict(
        "void", release.UNANSWERED_TEXT, ReasonCode.VALIDATION_UNANSWERED
    )


def test_a_held_reward_says_what_it_waits_for() -> None:
    later, now = "2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z"
    assert release.waiting_code(True, False, "required", later, now) == ReasonCode.REWARD_DELAYED
    assert release.waiting_code(True, False, "required", now, now) == ReasonCode.AWAITING_VALIDATION
    assert release.waiting_code(False, False, "required", now, now) == ReasonCode.REWARD_ABOVE_LIMIT


def test_the_payload_lists_a_bounded_number_of_invitees_and_counts_them_all() -> None:
    invitees = [f"c{i:07d}" for i in range(release.MAX_INVITEES + 10)]
    body = release.payload(
        campaign_id="cmp_1", reward_id="7kq2m9xa-m1", rule="m1", reward_type="coupon", name="c", value_fen=500,
        points=0, inviter="7kq2m9xa", invitees=invitees, earned_at="2026-12-01T00:00:00Z", attempt=1,
    )  # fmt: skip
    assert len(body["invitees"]) == release.MAX_INVITEES and body["invitee_count"] == len(invitees)


def test_held_and_voided_rewards_cannot_be_claimed_and_a_voided_one_not_revoked() -> None:
    assert rewards.claim_problem(rewards.PENDING_RELEASE) == "REWARD_PENDING_RELEASE"
    assert rewards.claim_problem(rewards.VOIDED) == "REWARD_VOIDED"
    assert rewards.revoke_problem(rewards.PENDING_RELEASE) is None
    assert rewards.revoke_problem(rewards.VOIDED) == "REWARD_VOIDED"


def test_existing_customers_are_one_to_a_hundred_ids() -> None:
    assert release.ExistingCustomers(external_ids=["a"]).external_ids == ["a"]
    for bad in ([], ["x"] * 101, [""], ["x" * 129]):
        with pytest.raises(ValidationError):
            release.ExistingCustomers(external_ids=bad)
