"""Profile rules: facts applied idempotently, auto tags that come and go, and the triggers a change fires."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from chalicelib.audience.rules import automations, profiles
from chalicelib.audience.rules.profiles import (
    ChurnFact,
    GroupFact,
    HelpFact,
    OrderFact,
    ParticipantFact,
    Profile,
    RewardFact,
    SeenFact,
)
from chalicelib.referral.rules import participants
from chalicelib.table.images import AssistImage, GroupImage, Image, OrderImage, ParticipantImage, RewardImage

T0 = "2026-11-01T08:00:00Z"


def _join(code: str = "c1", cid: str = "cmp_a", **kw: Any) -> ParticipantFact:
    return ParticipantFact(code=code, cid=cid, joined_at=kw.pop("joined_at", T0), **kw)


def _simple_holds(rule: str, view: dict[str, Any]) -> bool:
    """A tiny evaluator for `field op number` and `invited = true`, enough to test tagging without the parser."""
    name, op, value = rule.split()
    actual = view[name]
    target: Any = value == "true" if value in ("true", "false") else int(value)
    return bool({">=": actual >= target, ">": actual > target, "=": actual == target}[op])


def test_person_id_is_per_tenant_and_stable() -> None:
    a = participants.person_id(b"k", "t1", "user-1")
    assert a == participants.person_id(b"k", "t1", "user-1")
    assert a != participants.person_id(b"k", "t2", "user-1")
    assert a.startswith("u_") and len(a) == 26


def test_applying_the_same_facts_twice_changes_nothing() -> None:
    facts: list[profiles.Fact] = [
        _join(invites=2, channel="douyin"),
        RewardFact("cmp_a|c1|m1", True, "2026-11-02T00:00:00Z"),
        OrderFact("o1", 30000, "2026-11-03T00:00:00Z"),
        GroupFact("g1", "2026-11-04T00:00:00Z"),
        HelpFact("owner1", "2026-11-05T00:00:00Z"),
    ]
    once = profiles.apply(Profile("t", "u"), facts)
    twice = profiles.apply(once, facts)
    assert profiles.segment_view(once) == profiles.segment_view(twice)
    view = profiles.segment_view(once)
    assert view["invites"] == 2 and view["rewards"] == 1 and view["spend"] == 30000
    assert view["groups"] == 1 and view["helps"] == 1 and view["source"] == "douyin"
    assert once.first_seen == T0 and once.last_seen == "2026-11-05T00:00:00Z"


def test_refund_and_revoke_take_back_spend_and_rewards() -> None:
    p = profiles.apply(Profile("t", "u"), [OrderFact("o1", 60000, T0), RewardFact("r", True, T0)])
    p = profiles.apply(p, [OrderFact("o1", 0, "2026-11-02T00:00:00Z"), RewardFact("r", False, T0)])
    view = profiles.segment_view(p)
    assert view["spend"] == 0 and view["orders"] == 0 and view["rewards"] == 0


def test_source_is_the_first_joins_channel_and_campaigns_are_distinct() -> None:
    p = profiles.apply(
        Profile("t", "u"),
        [_join("c2", "cmp_b", channel="wechat", joined_at="2026-11-05T00:00:00Z"), _join("c1", channel="douyin")],
    )
    assert p.source == "douyin" and p.campaign_ids == {"cmp_a", "cmp_b"}


def test_erasure_forgets_the_campaign_and_the_personal_fields() -> None:
    p = profiles.apply(Profile("t", "u"), [_join(nickname="张三", contact_enc="x", birthday="05-01")])
    p = profiles.apply(p, [_join(erased=True)])
    assert p.parts == {} and p.nickname is None and p.contacts == [] and p.birthday is None


def test_auto_tags_appear_and_disappear_with_the_facts() -> None:
    rules = profiles.merge_rules({})
    p = profiles.apply(Profile("t", "u"), [_join(channel="douyin"), OrderFact("o1", 60000, T0)])
    tags, added, removed = profiles.auto_tags(p, rules, _simple_holds, T0)
    assert {"spend_over_500", "from_douyin"} <= set(tags) and "spend_over_500" in added and not removed
    p.auto_tags = tags
    p = profiles.apply(p, [OrderFact("o1", 0, "2026-11-02T00:00:00Z")])
    later, added, removed = profiles.auto_tags(p, rules, _simple_holds, "2026-11-02T00:00:00Z")
    assert "spend_over_500" not in later and removed == {"spend_over_500"}
    assert later["from_douyin"] == T0  # a tag that still holds keeps when it was first added


def test_a_switched_off_builtin_is_not_applied() -> None:
    off = profiles.TagRule("invited", "source", None, enabled=False)
    rules = profiles.merge_rules({"invited": off})
    p = profiles.apply(Profile("t", "u"), [_join(invited=True)])
    tags, _, _ = profiles.auto_tags(p, rules, _simple_holds, T0)
    assert "invited" not in tags
    assert next(r for r in rules if r.name == "invited").rule == "invited = true"  # the rule itself is kept


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1990-05-01", "05-01"), ("05-01", "05-01"), ("02-29", "02-29"), ("2001-12-31", "12-31")],
)
def test_birthdays_keep_month_and_day(given: str, expected: str) -> None:
    assert participants.month_day(given) == expected


@pytest.mark.parametrize("given", ["02-30", "13-01", "1990-5-1", "0501", ""])
def test_impossible_birthdays_are_refused(given: str) -> None:
    with pytest.raises(ValueError):
        participants.month_day(given)


# ---- triggers ------------------------------------------------------------------------------


def _types(entity: str, event: str, old: Image | None, new: Image | None) -> list[str]:
    return [f.type for f in automations.firings(entity, event, old, new)]


def test_a_join_fires_joined_and_qualified_once() -> None:
    new = ParticipantImage(tid="t", cid="c", code="p1", joined_at=T0, qualified_at=T0)
    assert _types("participant", "INSERT", None, new) == ["joined", "qualified"]
    # A later change of the same participant (counted invites) fires nothing again.
    assert _types("participant", "MODIFY", new, replace(new, counted=frozenset({"x"}))) == []


def test_a_held_join_fires_when_approved() -> None:
    held = ParticipantImage(tid="t", cid="c", code="p1", joined_at=T0, review="held")
    assert _types("participant", "INSERT", None, held) == []
    approved = replace(held, review="approved", qualified_at=T0)
    assert _types("participant", "MODIFY", held, approved) == ["joined", "qualified"]


def test_reward_milestone_group_assist_and_order_triggers() -> None:
    reward = RewardImage(tid="t", cid="c", code="p1", rule="m1", status="issued", name="5 yuan", created_at=T0)
    assert _types("reward", "INSERT", None, reward) == ["reward.issued", "milestone.reached"]
    pending = replace(reward, rule="perk", status="pending")
    assert _types("reward", "INSERT", None, pending) == []
    assert _types("reward", "MODIFY", pending, replace(pending, status="issued")) == ["reward.issued"]
    group = GroupImage(tid="t", cid="c", gid="g1", size=3, members=1, status="open")
    assert _types("group", "MODIFY", group, replace(group, status="failed")) == ["group.failed"]
    assist = AssistImage(tid="t", cid="c", owner="p1", helpers_required=3, slots=2)
    assert _types("assist", "MODIFY", assist, replace(assist, slots=3)) == ["assist.completed"]
    assert _types("assist", "MODIFY", replace(assist, slots=3), replace(assist, slots=3)) == []
    order = OrderImage(tid="t", cid="c", oid="o1", status="paid", buyer="p1", amount=100, paid_at=T0)
    assert _types("order", "INSERT", None, order) == ["order.paid"]
    assert _types("order", "MODIFY", order, replace(order, status="refunded")) == []


def test_trigger_parameters_are_checked() -> None:
    with pytest.raises(ValueError, match="days"):
        automations.Trigger(type="inactive")
    with pytest.raises(ValueError, match="hours_before"):
        automations.Trigger(type="joined", hours_before=2)
    with pytest.raises(ValueError, match="person"):
        automations.Trigger(type="birthday", campaign_id="cmp_x")
    assert automations.Trigger(type="group.deadline").lead_hours == 1


def test_a_run_key_names_rule_occurrence_and_person() -> None:
    a = automations.run_key("aut_1", "joined|p1", "u_1")
    assert a == automations.run_key("aut_1", "joined|p1", "u_1")
    assert len({a, automations.run_key("aut_2", "joined|p1", "u_1"), automations.run_key("aut_1", "x", "u_1")}) == 3


def test_a_page_view_is_activity_and_nothing_more() -> None:
    p = profiles.apply(Profile("t", "u"), [_join()])
    later = profiles.apply(p, [profiles.SeenFact("2026-11-20T00:00:00Z")])
    assert later.last_seen == "2026-11-20T00:00:00Z" and later.first_seen == T0
    assert profiles.segment_view(later) | {"last_seen": None} == profiles.segment_view(p) | {"last_seen": None}


def test_the_churn_risk_tag_follows_the_churn_verdict_and_survives_other_facts() -> None:
    def tags(p: Profile) -> set[str]:
        return set(profiles.auto_tags(p, profiles.merge_rules({}), lambda _t, _v: False, "2026-12-01T00:00:00Z")[0])

    apply = profiles.apply
    profile = apply(Profile(tid="t", uid="u"), [ChurnFact("high", True)])
    assert profile.churn_level == "high" and tags(profile) == {"churn_risk"}
    assert tags(apply(profile, [SeenFact("2026-12-01T09:00:00Z")])) == {"churn_risk"}  # activity leaves it
    assert tags(apply(profile, [ChurnFact("medium", False)])) == set()
    assert apply(profile, [ChurnFact("high", True)]) == profile  # the same verdict again changes nothing
