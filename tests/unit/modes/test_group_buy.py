"""Group buying rules: auto-fill at the deadline, why a group closed, and the campaign's effective end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import GroupBuyRules, parse_spec
from chalicelib.modes.assist import rules as assists
from chalicelib.modes.group_buy import rules as groups

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
PRODUCT = {"sku": "SKU-1", "name": "Serum"}


def group_rules(**rules: Any) -> GroupBuyRules:
    tiers = [{"size": 3, "price_fen": 3200}, {"size": 5, "price_fen": 2900}]
    return GroupBuyRules.model_validate({"product": PRODUCT, "original_price_fen": 9900, "tiers": tiers, **rules})


def test_auto_fill_needs_two_real_members_unless_the_merchant_says_otherwise() -> None:
    assert group_rules().auto_fill_min_members == 2
    assert group_rules(auto_fill_min_members=1).auto_fill_min_members == 1
    assert group_rules(auto_fill_min_members=3).auto_fill_min_members == 3  # the smallest size: never fills it


@pytest.mark.parametrize("minimum", [0, 4, 51, 2.5])
def test_an_auto_fill_minimum_below_one_or_above_the_smallest_tier_is_refused(minimum: Any) -> None:
    with pytest.raises(ValidationError, match="auto_fill_min_members"):
        group_rules(auto_fill=True, auto_fill_min_members=minimum)


@pytest.mark.parametrize(
    ("auto_fill", "minimum", "members", "size", "filled"),
    [
        (False, 2, 2, 3, 0),  # off: the group fails
        (True, 2, 2, 3, 1),
        (True, 2, 1, 3, 0),  # below the minimum: fails, members refunded
        (True, 1, 1, 5, 4),  # a leader alone is enough when the merchant allows it
        (True, 2, 3, 3, 0),  # full: succeeded on its own
        (True, 3, 3, 5, 2),
    ],
)
def test_system_fill_completes_only_groups_with_enough_real_members(
    auto_fill: bool, minimum: int, members: int, size: int, filled: int
) -> None:
    rules = group_rules(auto_fill=auto_fill, auto_fill_min_members=minimum)
    assert groups.system_fill(rules, members, size) == filled


def test_a_group_closes_for_the_campaigns_end_when_that_came_first_or_capped_its_deadline() -> None:
    deadline = NOW + timedelta(hours=24)
    assert groups.close_reason(deadline, NOW + timedelta(days=3)) == "deadline"
    assert groups.close_reason(deadline, deadline) == "campaign_ended"  # capped at opening
    assert groups.close_reason(deadline, NOW) == "campaign_ended"  # ended early by an operator


def campaign(status: str, ended_at: str | None) -> CampaignRecord:
    document = {
        "title": "t", "mode": "group_buy", "starts_at": "2026-11-30T00:00:00Z", "ends_at": "2026-12-10T00:00:00Z",
        "share": {"title": "s", "text": "s"}, "rule_text": "r",
        "rules": {"product": PRODUCT, "original_price_fen": 9900, "tiers": [{"size": 3, "price_fen": 3200}]},
    }  # fmt: skip
    spec = parse_spec(document)
    return CampaignRecord("c", "t", "group_buy", status, spec, document, 1, "x", "x", "x", ended_at=ended_at)


def test_an_ended_campaign_closes_when_it_was_ended_an_active_one_at_its_end_time() -> None:
    ends = datetime(2026, 12, 10, tzinfo=UTC)
    assert campaign("active", None).closes_at == ends
    assert campaign("paused", None).closes_at == ends
    assert campaign("ended", "2026-12-02T09:30:00Z").closes_at == datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    assert campaign("ended", "2026-12-11T00:00:00Z").closes_at == ends  # the end time passed first


def test_an_assist_shows_expired_once_its_campaign_has_ended_early() -> None:
    snap = assists.Snapshot(5, 5, [1], "2026-12-01T07:00:00Z", NOW + timedelta(hours=23), None, None)
    running = assists.progress("unlock", snap, NOW, NOW + timedelta(days=7))
    assert (running["status"], running["expires_at"]) == ("in_progress", "2026-12-02T07:00:00Z")
    ended = assists.progress("unlock", snap, NOW, NOW - timedelta(minutes=1))
    assert (ended["status"], ended["expires_at"]) == ("expired", "2026-12-01T07:59:00Z")
