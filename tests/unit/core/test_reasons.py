"""Reason codes: the closed set, and the stored free text mapped back to a code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from chalicelib.core.reasons import (
    REWARD_TEXT,
    ReasonCode,
    message_reason_code,
    review_reason_code,
    reward_reason_code,
)

DOCS = Path(__file__).resolve().parents[3] / "docs"


@pytest.mark.parametrize("code", list(REWARD_TEXT))
def test_each_text_the_engine_writes_maps_back_to_its_code(code: ReasonCode) -> None:
    status = "pending" if code is ReasonCode.WAITING_FOR_CODES else "unavailable"
    assert reward_reason_code(status, REWARD_TEXT[code]) is code


def test_reasons_stored_before_the_codes_map_to_their_code() -> None:
    assert reward_reason_code("unavailable", "this reward has run out") is ReasonCode.STOCK_EXHAUSTED
    assert reward_reason_code("unavailable", "the campaign's reward budget is spent") is ReasonCode.BUDGET_EXHAUSTED
    assert reward_reason_code("pending", "Waiting for coupon codes ") is ReasonCode.WAITING_FOR_CODES


def test_a_revoked_rewards_reason_is_the_operators_note_whatever_it_says() -> None:
    assert reward_reason_code("revoked", "this reward has run out") is ReasonCode.OPERATOR_REVOKED
    assert reward_reason_code("revoked", "duplicate account") is ReasonCode.OPERATOR_REVOKED


def test_a_reason_no_code_matches_is_other_and_no_reason_is_no_code() -> None:
    assert reward_reason_code("unavailable", "out of luck") is ReasonCode.OTHER
    assert reward_reason_code("issued", None) is None
    assert message_reason_code("carrier_said_no") is ReasonCode.OTHER
    assert message_reason_code(None) is None


def test_a_review_is_a_risk_hold_until_an_operator_decides() -> None:
    assert review_reason_code("pending") is ReasonCode.RISK_HOLD
    assert review_reason_code("approved") is ReasonCode.OPERATOR_APPROVED
    assert review_reason_code("rejected") is ReasonCode.OPERATOR_REJECTED


@pytest.mark.parametrize(
    "stored", ["kill_switch", "unsubscribed", "no_address", "channel_off", "address_cap", "quiet_hours", "daily_cap"]
)
def test_every_message_reason_the_outbox_writes_has_its_code(stored: str) -> None:
    assert message_reason_code(stored) == stored.upper()


def test_every_code_is_documented_with_its_meaning_and_in_the_openapi_enum() -> None:
    table = (DOCS / "architecture.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \| \S", table, flags=re.MULTILINE))
    assert {c.value for c in ReasonCode} <= documented
    openapi = (DOCS / "openapi.yaml").read_text()
    enum = re.search(r"ReasonCode:\n(?:.*\n)*?\s+enum: \[([A-Z_, ]+)\]", openapi)
    assert enum is not None
    assert {c.strip() for c in enum.group(1).split(",")} == {c.value for c in ReasonCode}
