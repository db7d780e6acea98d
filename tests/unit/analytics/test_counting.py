"""What each fact adds to the analytics counters (pure)."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.analytics.rules import counting
from chalicelib.analytics.rules.counting import BeaconRequest
from chalicelib.table.images import (
    BeaconImage,
    ClickImage,
    CommissionImage,
    GroupImage,
    Image,
    OrderImage,
    ParticipantImage,
    RewardImage,
)

NOW = "2026-12-01T10:00:00Z"


def added(entity: str, event: str, old: Image | None, new: Image | None) -> dict[str, int]:
    found: dict[str, int] = {}
    for c in counting.contributions(entity, event, old, new, NOW):
        found[c.attribute()] = found.get(c.attribute(), 0) + c.amount
    return found


def test_an_invited_join_counts_the_join_its_generation_and_when_qualified_its_cycle_time() -> None:
    new = ParticipantImage(cid="c", tid="t", code="p1", joined_at="2026-12-01T09:00:00Z", channel="douyin",
                           variant="b", depth=2, inviter="abcdefgh", qualified_at="2026-12-01T09:00:00Z",
                           inviter_joined_at="2026-12-01T07:29:59Z")  # fmt: skip
    assert added("participant", "INSERT", None, new) == {
        "n|join|douyin|b": 1, "n|depth:2|-|b": 1, "n|invited_join|douyin|b": 1, "n|qualified|douyin|b": 1,
        "h|cycle|90": 1,
    }  # fmt: skip


def test_a_held_join_counts_nowhere_until_approved_then_once_on_its_join_day_and_never_if_rejected() -> None:
    held = ParticipantImage(cid="c", tid="t", code="p1", joined_at="2026-12-01T09:00:00Z", channel="douyin",
                            variant="b", depth=2, inviter="abcdefgh", review="held",
                            inviter_joined_at="2026-12-01T07:29:59Z")  # fmt: skip
    assert added("participant", "INSERT", None, held) == {}
    # A qualifying action while held lands in held_qualified_at (no image change counted); approval brings it.
    approved = replace(held, review="approved", qualified_at="2026-12-01T09:00:00Z")
    released = {"n|join|douyin|b": 1, "n|depth:2|-|b": 1, "n|invited_join|douyin|b": 1, "n|qualified|douyin|b": 1,
                "h|cycle|90": 1}  # fmt: skip
    assert added("participant", "MODIFY", held, approved) == released
    assert {c.at for c in counting.contributions("participant", "MODIFY", held, approved, NOW)} == {held.joined_at}
    # Approved before qualifying: the join and the invite now, the qualification when it comes.
    early = replace(held, review="approved")
    assert added("participant", "MODIFY", held, early) == {
        "n|join|douyin|b": 1, "n|depth:2|-|b": 1, "n|invited_join|douyin|b": 1,
    }  # fmt: skip
    assert added("participant", "MODIFY", early, approved) == {"n|qualified|douyin|b": 1, "h|cycle|90": 1}
    # Once approved, later changes add nothing again; a rejection never counts.
    assert added("participant", "MODIFY", approved, replace(approved, counted=frozenset())) == {}
    assert added("participant", "MODIFY", held, replace(held, review="rejected")) == {}


def test_a_later_qualification_and_the_first_counted_invitee() -> None:
    old = ParticipantImage(cid="c", tid="t", code="p1", inviter="x", joined_at="2026-12-01T09:00:00Z",
                           counted=frozenset())  # fmt: skip
    assert added("participant", "MODIFY", old, replace(old, qualified_at="2026-12-02T09:00:00Z")) == {
        "n|qualified|-|-": 1
    }
    assert added("participant", "MODIFY", old, replace(old, counted=frozenset({"a", "b"}))) == {
        "n|activated|-|-": 1, "n|offspring_sq|-|-": 4,
    }  # fmt: skip
    two, three = replace(old, counted=frozenset({"a", "b"})), replace(old, counted=frozenset({"a", "b", "c"}))
    assert added("participant", "MODIFY", two, three) == {"n|offspring_sq|-|-": 5}
    assert added("participant", "MODIFY", old, old) == {}


def test_orders_count_on_payment_and_take_revenue_back_on_refund() -> None:
    paid = OrderImage(cid="c", tid="t", oid="o1", status="paid", paid_at=NOW, amount=990, channel="sms", invited=True)
    assert added("order", "INSERT", None, paid) == {
        "n|converted|sms|-": 1, "n|revenue_fen|sms|-": 990, "n|attributed_revenue_fen|sms|-": 990,
    }  # fmt: skip
    refunded = replace(paid, status="refunded", refunded_at=NOW)
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
    new = RewardImage(cid="c", tid="t", code="p1", rule="m1", name="5 yuan", created_at=NOW, value_fen=900,
                      cost_fen=700, status=after)  # fmt: skip
    old = replace(new, status=before) if before else None
    assert added("reward", event, old, new) == expected


def test_clicks_beacons_and_commissions() -> None:
    assert added("click", "INSERT", None, ClickImage(cid="c", at=NOW, channel="sms")) == {"n|click|sms|-": 1}
    assert added("beacon", "INSERT", None, BeaconImage(cid="c", at=NOW, type="click")) == {"n|ui_click|-|-": 1}
    assert added("commission", "INSERT", None, CommissionImage(cid="c", created_at=NOW, amount_fen=-120)) == {
        "n|commission_fen|-|-": -120
    }
    assert added("commission_mirror", "INSERT", None, CommissionImage(cid="c", created_at=NOW, amount_fen=5)) == {}
    group = GroupImage(cid="c", gid="g1", tid="t", size=2, members=1, status="open")
    assert added("group", "INSERT", None, group) == {}


def test_days_are_the_campaigns_local_days() -> None:
    assert counting.local_day("2026-12-01T16:30:00Z", ZoneInfo("Asia/Shanghai")) == "2026-12-02"
    assert counting.local_day("2026-12-01T16:30:00Z", ZoneInfo("UTC")) == "2026-12-01"


def test_beacons_are_validated() -> None:
    assert BeaconRequest.model_validate({"type": "share", "channel": "my_channel_2"}).channel == "my_channel_2"
    for bad in ({"type": "custom"}, {"type": "view", "name": "x"}, {"type": "view", "channel": "Bad Channel"},
                {"type": "view", "extra": 1}, {"type": "purchase"}):  # fmt: skip
        with pytest.raises(ValidationError):
            BeaconRequest.model_validate(bad)
