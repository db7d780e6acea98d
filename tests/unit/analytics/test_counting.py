"""What each fact adds to the analytics counters (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.analytics.rules import counting
from chalicelib.analytics.rules.counting import BeaconRequest

NOW = "2026-12-01T10:00:00Z"


def added(entity: str, event: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for c in counting.contributions(entity, event, old, new, NOW):
        found[c.attribute()] = found.get(c.attribute(), 0) + c.amount
    return found


def test_an_invited_join_counts_the_join_its_generation_and_when_qualified_its_cycle_time() -> None:
    new = {"cid": "c", "joined_at": "2026-12-01T09:00:00Z", "channel": "douyin", "variant": "b", "depth": 2,
           "inviter": "abcdefgh", "qualified_at": "2026-12-01T09:00:00Z",
           "inviter_joined_at": "2026-12-01T07:29:59Z"}  # fmt: skip
    assert added("participant", "INSERT", {}, new) == {
        "n|join|douyin|b": 1, "n|depth:2|-|b": 1, "n|invited_join|douyin|b": 1, "n|qualified|douyin|b": 1,
        "h|cycle|90": 1,
    }  # fmt: skip


def test_a_later_qualification_and_the_first_counted_invitee() -> None:
    old = {"cid": "c", "inviter": "x", "joined_at": "2026-12-01T09:00:00Z", "counted": set()}
    assert added("participant", "MODIFY", old, {**old, "qualified_at": "2026-12-02T09:00:00Z"}) == {
        "n|qualified|-|-": 1
    }
    assert added("participant", "MODIFY", old, {**old, "counted": {"a", "b"}}) == {
        "n|activated|-|-": 1, "n|offspring_sq|-|-": 4,
    }  # fmt: skip
    assert added("participant", "MODIFY", {**old, "counted": {"a", "b"}}, {**old, "counted": {"a", "b", "c"}}) == {
        "n|offspring_sq|-|-": 5
    }
    assert added("participant", "MODIFY", old, old) == {}


def test_orders_count_on_payment_and_take_revenue_back_on_refund() -> None:
    paid = {"cid": "c", "status": "paid", "paid_at": NOW, "amount": 990, "channel": "sms", "invited": True}
    assert added("order", "INSERT", {}, paid) == {
        "n|converted|sms|-": 1, "n|revenue_fen|sms|-": 990, "n|attributed_revenue_fen|sms|-": 990,
    }  # fmt: skip
    refunded = {**paid, "status": "refunded", "refunded_at": NOW}
    assert added("order", "MODIFY", paid, refunded) == {
        "n|refunds|sms|-": 1, "n|refunded_fen|sms|-": 990, "n|revenue_fen|sms|-": -990,
        "n|attributed_revenue_fen|sms|-": -990,
    }  # fmt: skip
    assert added("order", "MODIFY", refunded, refunded) == {}


@pytest.mark.parametrize(
    ("event", "before", "after", "expected"),
    [
        ("INSERT", None, "issued", {"n|rewards|-|-": 1, "n|reward_cost_fen|-|-": 700}),
        ("INSERT", None, "pending", {"n|rewards|-|-": 1, "n|reward_cost_fen|-|-": 700}),
        ("INSERT", None, "unavailable", {}),
        ("MODIFY", "pending", "issued", {}),
        ("MODIFY", "issued", "claimed", {}),
        ("MODIFY", "issued", "revoked", {"n|rewards|-|-": -1, "n|reward_cost_fen|-|-": -700}),
    ],
)
def test_reward_costs_follow_the_reward_state(
    event: str, before: str | None, after: str, expected: dict[str, int]
) -> None:
    base = {"cid": "c", "created_at": NOW, "value_fen": 900, "cost_fen": 700}
    old = {**base, "status": before} if before else {}
    assert added("reward", event, old, {**base, "status": after}) == expected


def test_clicks_beacons_and_commissions() -> None:
    assert added("click", "INSERT", {}, {"cid": "c", "at": NOW, "channel": "sms"}) == {"n|click|sms|-": 1}
    assert added("beacon", "INSERT", {}, {"cid": "c", "at": NOW, "type": "click"}) == {"n|ui_click|-|-": 1}
    assert added("commission", "INSERT", {}, {"cid": "c", "created_at": NOW, "amount_fen": -120}) == {
        "n|commission_fen|-|-": -120
    }
    assert added("commission_mirror", "INSERT", {}, {"cid": "c", "created_at": NOW, "amount_fen": 5}) == {}
    assert added("group", "INSERT", {}, {"cid": "c"}) == {}


def test_days_are_the_campaigns_local_days() -> None:
    assert counting.local_day("2026-12-01T16:30:00Z", ZoneInfo("Asia/Shanghai")) == "2026-12-02"
    assert counting.local_day("2026-12-01T16:30:00Z", ZoneInfo("UTC")) == "2026-12-01"


def test_beacons_are_validated() -> None:
    assert BeaconRequest.model_validate({"type": "share", "channel": "my_channel_2"}).channel == "my_channel_2"
    for bad in ({"type": "custom"}, {"type": "view", "name": "x"}, {"type": "view", "channel": "Bad Channel"},
                {"type": "view", "extra": 1}, {"type": "purchase"}):  # fmt: skip
        with pytest.raises(ValidationError):
            BeaconRequest.model_validate(bad)
