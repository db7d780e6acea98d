"""Assist rules: the cut plan always reaches the target exactly within bounds; refusals, days and views."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chalicelib.campaigns.rules.spec import AssistRules, Reward
from chalicelib.core.errors import Conflict, Gone
from chalicelib.modes.assist import rules as assists
from chalicelib.referral.rules.rewards import ASSIST_RULE, reward_rules

SECRET = b"k" * 32
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _seed(i: int) -> bytes:
    return assists.seed(SECRET, "cmp_1", f"owner{i:03d}")


def _check(cuts: list[int], target: int, helpers: int, low: int, high: int) -> None:
    assert len(cuts) == helpers
    assert sum(cuts) == target
    assert all(low <= c <= high for c in cuts)


def test_cuts_stay_in_bounds_and_sum_exactly_to_the_target_over_many_seeds_and_bounds() -> None:
    cases = random.Random(20261201)
    for i in range(2000):
        helpers = cases.randint(1, 200)
        low = cases.randint(1, 500)
        high = low + cases.choice([0, 1, cases.randint(0, 3000)])
        target = cases.randint(helpers * low, helpers * high)
        _check(assists.cut_sequence(_seed(i), target, helpers, low, high), target, helpers, low, high)


@pytest.mark.parametrize(
    ("target", "helpers", "low", "high"),
    [
        (500, 5, 100, 100),  # min == max: one possible plan
        (500, 5, 100, 2000),  # target == n * min: every cut is the minimum
        (10000, 5, 100, 2000),  # target == n * max: every cut is the maximum
        (9900, 1, 100, 9900),  # one helper takes it all
        (9900, 10, 100, 2000),  # the default test campaign
        (200, 200, 1, 1),  # unlock with the most helpers: cut 1 each
        (10**10, 200, 1, 10**10),  # huge bounds
    ],
)
def test_edge_cases_of_the_plan(target: int, helpers: int, low: int, high: int) -> None:
    for i in range(50):
        _check(assists.cut_sequence(_seed(i), target, helpers, low, high), target, helpers, low, high)


def test_target_at_n_times_min_gives_all_minimum_cuts() -> None:
    assert assists.cut_sequence(_seed(0), 500, 5, 100, 2000) == [100] * 5
    assert assists.cut_sequence(_seed(0), 10000, 5, 100, 2000) == [2000] * 5


def test_the_plan_is_reproducible_from_its_seed_and_differs_between_owners() -> None:
    first = assists.cut_sequence(_seed(1), 9900, 10, 100, 2000)
    assert assists.cut_sequence(_seed(1), 9900, 10, 100, 2000) == first
    others = {tuple(assists.cut_sequence(_seed(i), 9900, 10, 100, 2000)) for i in range(2, 30)}
    assert tuple(first) not in others and len(others) > 20


def test_the_seed_is_keyed_by_secret_campaign_and_owner() -> None:
    base = assists.seed(SECRET, "cmp_1", "owner001")
    assert assists.seed(b"x" * 32, "cmp_1", "owner001") != base
    assert assists.seed(SECRET, "cmp_2", "owner001") != base
    assert assists.seed(SECRET, "cmp_1", "owner002") != base


def test_the_biggest_cut_is_not_always_in_the_same_slot() -> None:
    slots = {max(range(10), key=assists.cut_sequence(_seed(i), 9900, 10, 100, 2000).__getitem__) for i in range(200)}
    assert len(slots) >= 8


@pytest.mark.parametrize(
    ("target", "helpers", "low", "high"),
    [(499, 5, 100, 2000), (10001, 5, 100, 2000), (10, 0, 1, 10), (10, 2, 0, 10), (10, 2, 6, 5)],
)
def test_unreachable_plans_are_refused(target: int, helpers: int, low: int, high: int) -> None:
    with pytest.raises(ValueError):
        assists.cut_sequence(_seed(0), target, helpers, low, high)


def _rules(**overrides: Any) -> dict[str, Any]:
    rules: dict[str, Any] = {
        "goal": "cut_price",
        "product": {"sku": "SKU-1", "name": "Serum"},
        "original_price_fen": 10000,
        "floor_price_fen": 100,
        "helpers_required": 10,
        "min_cut_fen": 100,
        "max_cut_fen": 2000,
        **overrides,
    }
    return AssistRules.model_validate(rules).model_dump(mode="json", exclude_none=True)


def test_cut_price_plan_targets_original_minus_floor() -> None:
    plan = assists.plan(AssistRules.model_validate(_rules(time_limit_hours=6)))
    assert (plan.target, plan.helpers, plan.min_cut, plan.max_cut) == (9900, 10, 100, 2000)
    assert plan.time_limit == timedelta(hours=6)
    assert (plan.original_price, plan.floor_price) == (10000, 100)


def test_unlock_plan_is_one_virtual_unit_per_helper() -> None:
    rules = {"goal": "unlock", "helpers_required": 5, "prize": {"type": "gift", "name": "Tote bag"}}
    plan = assists.plan(AssistRules.model_validate(rules))
    assert (plan.target, plan.helpers, plan.min_cut, plan.max_cut) == (5, 5, 1, 1)
    assert assists.cut_sequence(_seed(0), plan.target, plan.helpers, plan.min_cut, plan.max_cut) == [1] * 5


def test_every_valid_campaign_rule_set_gives_a_reachable_plan() -> None:
    cases = random.Random(7)
    for i in range(300):
        helpers = cases.randint(1, 200)
        low = cases.randint(1, 300)
        high = low + cases.randint(0, 300)
        floor = cases.randint(0, 1000)
        target = cases.randint(helpers * low, helpers * high)
        rules = _rules(
            helpers_required=helpers, min_cut_fen=low, max_cut_fen=high, floor_price_fen=floor,
            original_price_fen=floor + target,
        )  # fmt: skip
        plan = assists.plan(AssistRules.model_validate(rules))
        _check(assists.cut_sequence(_seed(i), plan.target, helpers, low, high), target, helpers, low, high)


def test_the_deadline_never_passes_the_campaigns_end() -> None:
    assert assists.deadline(NOW, timedelta(hours=24), NOW + timedelta(days=3)) == NOW + timedelta(hours=24)
    assert assists.deadline(NOW, timedelta(hours=24), NOW + timedelta(hours=2)) == NOW + timedelta(hours=2)


def test_the_help_day_is_the_campaigns_local_day() -> None:
    late_utc = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)  # 01:30 on 2 December in Shanghai
    assert assists.help_day(late_utc, "Asia/Shanghai") == "2026-12-02"
    assert assists.help_day(late_utc, "UTC") == "2026-12-01"


def test_same_person_by_code_identity_device_or_phone() -> None:
    owner = assists.Person("aaaaaaaa", "id-1", "dev-1", "ph-1")
    assert assists.same_person(owner, owner)
    assert assists.same_person(owner, assists.Person("bbbbbbbb", "id-1", None, None))
    assert assists.same_person(owner, assists.Person("bbbbbbbb", "id-2", "dev-1", None))
    assert assists.same_person(owner, assists.Person("bbbbbbbb", "id-2", None, "ph-1"))
    assert not assists.same_person(owner, assists.Person("bbbbbbbb", "id-2", "dev-2", "ph-2"))
    no_facts = assists.Person("aaaaaaaa", "id-1", None, None)
    assert not assists.same_person(no_facts, assists.Person("bbbbbbbb", "id-2", None, None))


def test_refusals_name_the_most_specific_reason() -> None:
    cuts = [300, 200, 500]
    later = NOW + timedelta(hours=1)
    repeat = assists.refusal({"h1": 2}, cuts, 3, "h1", NOW, later)
    assert isinstance(repeat, Conflict) and repeat.code == "ALREADY_HELPED" and repeat.details["cut"] == 200
    full = assists.refusal({"h1": 1, "h2": 2, "h3": 3}, cuts, 3, "h4", NOW, later)
    assert isinstance(full, Conflict) and full.code == "ASSIST_COMPLETED"
    expired = assists.refusal({"h1": 1}, cuts, 1, "h4", NOW, later)
    assert isinstance(expired, Gone) and (expired.status, expired.code) == (410, "ASSIST_EXPIRED")
    assert assists.already_helped({"h1": 1}, cuts, "h2") is None
    # Nothing explains the failure (the assist was started after the claim): the caller claims again.
    assert assists.refusal({}, cuts, 0, "h1", later, NOW) is None


def test_status_completed_wins_over_expired() -> None:
    assert assists.status(3, 3, NOW, NOW + timedelta(hours=1)) == "completed"
    assert assists.status(2, 3, NOW, NOW + timedelta(hours=1)) == "expired"
    assert assists.status(2, 3, NOW, NOW - timedelta(seconds=1)) == "in_progress"
    assert assists.status(0, 3, None, NOW) == "in_progress"


def test_progress_shows_only_the_cuts_taken_and_the_current_price() -> None:
    snap = assists.Snapshot(9900, 3, [4000, 2000], "2026-12-01T08:00:00Z", NOW + timedelta(hours=24), 10000, 100)
    view = assists.progress("cut_price", snap, NOW, NOW + timedelta(days=7))
    assert view["status"] == "in_progress"
    assert (view["cut_so_far"], view["remaining"], view["helpers"], view["helpers_required"]) == (6000, 3900, 2, 3)
    assert view["cuts"] == [4000, 2000]
    assert (view["current_price_fen"], view["floor_price_fen"]) == (4000, 100)
    assert view["expires_at"] == "2026-12-02T08:00:00Z"


def test_a_not_started_assist_expires_with_the_campaign() -> None:
    snap = assists.Snapshot(5, 5, [], None, None)
    assert assists.progress("unlock", snap, NOW, NOW + timedelta(days=1))["status"] == "in_progress"
    view = assists.progress("unlock", snap, NOW, NOW - timedelta(seconds=1))
    assert view["status"] == "expired" and view["expires_at"] is None and "current_price_fen" not in view


def test_prize_is_the_deal_at_the_floor_price_or_the_unlock_prize_under_one_rule() -> None:
    cut = assists.prize(AssistRules.model_validate(_rules()), 100)
    assert (cut.rule, cut.type, cut.name, cut.value_fen, cut.stock_limited) == (
        ASSIST_RULE, "custom", "Serum", 100, False,
    )  # fmt: skip
    assert cut.cost == _rules()["original_price_fen"] - 100  # the budget pays the discount, not the price
    unlock = {
        "goal": "unlock",
        "helpers_required": 3,
        "prize": {"type": "coupon", "name": "50 off", "value_fen": 5000, "stock": 9},
    }
    grant = assists.prize(AssistRules.model_validate(unlock), None)
    assert (grant.rule, grant.type, grant.name, grant.value_fen, grant.stock_limited) == (
        ASSIST_RULE, "coupon", "50 off", 5000, True,
    )  # fmt: skip
    assert reward_rules(AssistRules.model_validate(unlock)) == {ASSIST_RULE: Reward.model_validate(unlock["prize"])}
