"""The compliance checker (the compliance table), the sensitive-word matcher and the cost simulation."""

from __future__ import annotations

import copy
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules import compliance, costs, templates
from chalicelib.campaigns.rules import spec as campaigns
from chalicelib.campaigns.rules.compliance import Finding
from tests.conftest import MODE_RULES, campaign_body

PRODUCT = {"sku": "SKU-1", "name": "Full-size serum"}
RULE_ZH = "1. 好友通过你的链接注册，计为1次有效邀请；\n2. 优惠券领取后7天内有效；\n3. 每人最多计10次邀请。"
RULE_EN = "1. A friend who joins through your link counts as one invite.\n2. Coupons are valid for 7 days."


def coupon(name: str = "5元券", value_fen: int = 500, stock: int | None = 1000) -> dict[str, Any]:
    return {"type": "coupon", "name": name, "value_fen": value_fen, "stock": stock}


def invite(**overrides: Any) -> dict[str, Any]:
    """A clean Chinese invite campaign as a raw document; `overrides` replace top-level fields."""
    document: dict[str, Any] = {
        "title": "邀请好友得好礼",
        "mode": "invite",
        "description": "邀请好友注册，阶梯领券。",
        "starts_at": "2026-12-01T00:00:00Z",
        "ends_at": "2026-12-15T00:00:00Z",
        "share": {"title": "一起来领券", "text": "用我的链接注册，你我都有券。"},
        "rule_text": RULE_ZH,
        "rules": {
            "qualifying_action": "join",
            "milestones": [{"invites": 1, "reward": coupon()}, {"invites": 3, "reward": coupon("20元券", 2000)}],
            "invitee_reward": coupon("新人券", 300),
        },
    }
    document.update(overrides)
    return document


def invite_en(**overrides: Any) -> dict[str, Any]:
    english = {
        "title": "Invite friends",
        "description": "Invite friends and earn coupons.",
        "share": {"title": "Coupons for both of us", "text": "Join through my link and we both get a coupon."},
        "rule_text": RULE_EN,
    }
    return invite(**(english | overrides))


def group_buy(**rules: Any) -> dict[str, Any]:
    return invite(
        mode="group_buy",
        rule_text="1. 24小时内凑满3人即成团；\n2. 超时未成团全额退款；\n3. 团长礼券7天内有效。",
        rules={"product": PRODUCT, "original_price_fen": 9900, "tiers": [{"size": 3, "price_fen": 6900}], **rules},
    )


def distribution(**rules: Any) -> dict[str, Any]:
    return invite(mode="distribution", rules={"levels": 2, "rates_bp": [1000, 300], **rules})


def with_milestone_name(name: str) -> dict[str, Any]:
    document = invite()
    document["rules"]["milestones"][0]["reward"]["name"] = name
    return document


def with_variants(text: str) -> dict[str, Any]:
    variants = [{"id": "a", "weight": 50}, {"id": "b", "weight": 50, "share": {"title": "B", "text": text}}]
    return invite(experiment={"variants": variants})


# (case id, document, override_value_cap, expected findings as (code, severity, field, details subset))
Expected = tuple[str, str, str, dict[str, Any]]
TABLE: list[tuple[str, dict[str, Any], bool, list[Expected]]] = [
    ("clean Chinese invite", invite(), False, []),
    ("clean English invite", invite_en(), False, []),
    ("clean group buy with a modest leader perk", group_buy(leader_perk=coupon("饮品券", 1500)), False, []),
    ("clean two-level distribution", distribution(), False, []),
    (
        "share copy demands posting to Moments",
        invite(share={"title": "领券", "text": "分享到朋友圈即可领券"}),
        False,
        [("FORCED_SHARING", "block", "share.text",
          {"word": "分享到朋友圈", "category": "induced_sharing", "start": 0, "end": 6})],
    ),
    (
        "a reward that requires posting to a group",
        with_milestone_name("转发到群送5元券"),
        False,
        [("FORCED_SHARING", "block", "rules.milestones[0].reward.name", {"word": "转发到群", "start": 0, "end": 4})],
    ),
    (
        "a raw reward conditioned on collecting likes",
        invite(rules={**invite()["rules"], "invitee_reward": {**coupon("新人券", 300), "condition": "集赞20个"}}),
        False,
        [("FORCED_SHARING", "block", "rules.invitee_reward.condition", {"word": "集赞", "start": 0, "end": 2})],
    ),
    (
        "a reward qualifying on a share",
        invite(rules={**invite()["rules"], "qualifying_action": "share"}),
        False,
        [("FORCED_SHARING", "block", "rules.qualifying_action", {"qualifying_action": "share"})],
    ),
    (
        "spaces and dots between the characters do not hide a word; positions are in the original text",
        invite(share={"title": "领券", "text": "快来转 发·朋友圈吧"}),
        False,
        [("FORCED_SHARING", "block", "share.text",
          {"word": "转 发·朋友圈", "listed": "转发朋友圈", "start": 2, "end": 9})],
    ),
    (
        "English forced sharing, any case",
        invite_en(share={"title": "Coupons", "text": "Please Forward To Moments now"}),
        False,
        [("FORCED_SHARING", "block", "share.text", {"word": "Forward To Moments", "start": 7, "end": 25})],
    ),
    (
        "an A/B variant's share copy is scanned too",
        with_variants("必须转发才可以领"),
        False,
        [
            ("FORCED_SHARING", "block", "experiment.variants[1].share.text",
             {"word": "必须转发", "start": 0, "end": 4}),
        ],
    ),
    (
        "absolute advertising terms in title and description",
        invite(title="本店咖啡最佳", description="国家级品质"),
        False,
        [
            ("SENSITIVE_WORD", "block", "title", {"word": "最佳", "category": "absolute_terms", "start": 4, "end": 6}),
            ("SENSITIVE_WORD", "block", "description", {"word": "国家级", "start": 0, "end": 3}),
        ],
    ),
    (
        "full-width Latin is normalised",
        invite_en(share={"title": "Ｎｏ．１ coffee in town", "text": "Join us."}),
        False,
        [("SENSITIVE_WORD", "block", "share.title", {"word": "Ｎｏ．１", "listed": "no.1", "start": 0, "end": 4})],
    ),
    (
        "gambling and financial promises",
        invite(description="加入博彩，稳赚不赔"),
        False,
        [
            ("SENSITIVE_WORD", "block", "description", {"category": "gambling", "start": 2, "end": 4}),
            ("SENSITIVE_WORD", "block", "description",
             {"category": "medical_financial_promises", "start": 5, "end": 7}),
        ],
    ),
    (
        "a warn word does not block",
        invite(rule_text=RULE_ZH + "\n4. 活动最终解释权归商家所有。"),
        False,
        [("SENSITIVE_WORD", "warn", "rule_text", {"word": "最终解释权", "category": "claims_to_review"})],
    ),
    (
        "Latin words match whole words only",
        invite_en(description="Our bestseller, abetting nobody; no casinos."),
        False,
        [],
    ),
    (
        "a leader perk above 30% of the product price",
        group_buy(leader_perk=coupon("大礼包", 5000)),
        False,
        [("REWARD_VALUE_CAP", "block", "rules.leader_perk",
          {"value_fen": 5000, "product_value_fen": 9900, "cap_percent": 30, "cap_fen": 2970, "overridden": False})],
    ),
    (
        "the owner's override turns the value cap into a warning",
        group_buy(leader_perk=coupon("大礼包", 5000)),
        True,
        [("REWARD_VALUE_CAP", "warn", "rules.leader_perk", {"overridden": True})],
    ),
    (
        "a declared product value and a custom cap",
        invite(compliance={"product_value_fen": 10_000, "value_cap_percent": 15}),
        False,
        [("REWARD_VALUE_CAP", "block", "rules.milestones[1].reward", {"value_fen": 2000, "cap_fen": 1500})],
    ),
    (
        "a big cash reward and no product value to check it against",
        with_milestone_name("现金红包") | {"rules": {"milestones": [{"invites": 1, "reward": {
            "type": "cash", "name": "现金红包", "value_fen": 20_000}}]}},
        False,
        [("VALUE_CAP_UNKNOWN", "warn", "rules.milestones[0].reward", {"value_fen": 20_000})],
    ),
    (
        "a commission rate above the cap",
        distribution(levels=1, rates_bp=[4000]),
        False,
        [("REWARD_VALUE_CAP", "block", "rules.rates_bp[0]", {"rate_bp": 4000})],
    ),
    (
        "distribution three levels deep (a raw document the model refuses)",
        distribution(levels=3, rates_bp=[1000, 300, 100]),
        False,
        [("DISTRIBUTION_DEPTH", "block", "rules.levels", {"levels": 3, "max_levels": 2})],
    ),
    (
        "auto-fill not disclosed",
        group_buy(auto_fill=True),
        False,
        [("AUTO_FILL_UNDISCLOSED", "block", "rules.auto_fill", {})],
    ),
    (
        "auto-fill disclosed in Chinese",
        group_buy(auto_fill=True) | {"rule_text": "1. 24小时内凑满3人即成团；\n2. 未成团的由系统补位自动成团。"},
        False,
        [],
    ),
    (
        "auto-fill disclosed in English",
        group_buy(auto_fill=True) | {"rule_text": "Groups not full at the deadline are auto-filled by the system."},
        False,
        [],
    ),
    (
        "no rule text",
        invite(rule_text="  "),
        False,
        [("RULE_TEXT_REQUIRED", "block", "rule_text", {"length": 0}),
         ("EXPIRY_REQUIRED", "warn", "rule_text", {})],
    ),
    (
        "coupons without a word on how long they stay valid",
        invite(rule_text="1. 好友通过你的链接注册，计为1次有效邀请。"),
        False,
        [("EXPIRY_REQUIRED", "warn", "rule_text",
          {"rewards": ["rules.milestones[0].reward", "rules.milestones[1].reward", "rules.invitee_reward"]})],
    ),
    (
        "no end time",
        invite(ends_at=None),
        False,
        [("EXPIRY_REQUIRED", "block", "ends_at", {})],
    ),
]  # fmt: skip


def summary(findings: list[Finding]) -> list[tuple[str, str, str]]:
    return [(f.code, f.severity, f.field) for f in findings]


@pytest.mark.parametrize(("document", "override", "expected"), [c[1:] for c in TABLE], ids=[c[0] for c in TABLE])
def test_compliance_table(document: dict[str, Any], override: bool, expected: list[Expected]) -> None:
    found = compliance.check(document, override_value_cap=override)
    assert sorted(summary(found)) == sorted((code, sev, path) for code, sev, path, _ in expected)
    for code, severity, path, details in expected:
        finding = next(f for f in found if (f.code, f.severity, f.field) == (code, severity, path)
                       and all(f.details.get(k) == v for k, v in details.items()))  # fmt: skip
        assert finding.message
        assert finding.to_dict()["details"] == finding.details


def test_the_table_has_good_and_bad_configs_for_every_rule() -> None:
    codes = {code for *_, expected in TABLE for code, *_ in expected}
    assert codes == {
        "FORCED_SHARING", "REWARD_VALUE_CAP", "VALUE_CAP_UNKNOWN", "DISTRIBUTION_DEPTH", "SENSITIVE_WORD",
        "AUTO_FILL_UNDISCLOSED", "EXPIRY_REQUIRED", "RULE_TEXT_REQUIRED",
    }  # fmt: skip
    assert sum(1 for *_, expected in TABLE if not expected) >= 5


def test_word_positions_slice_the_original_text() -> None:
    text = "限时 集 赞 送券，Best In The World 的服务"
    for hit in compliance.find_words(text):
        assert compliance._fold(text[hit.start : hit.end]) == compliance._fold(hit.word)
    assert [(h.word, h.start, h.end) for h in compliance.find_words(text)] == [
        ("集赞", 3, 6),
        ("best in the world", 10, 27),
    ]


def test_blocking_findings_come_first() -> None:
    found = compliance.check(invite(rule_text="", title="最佳"))
    severities = [f.severity for f in found]
    assert severities == sorted(severities, key=lambda s: s != "block") and "warn" in severities


@pytest.mark.parametrize("template", list(templates.library().values()), ids=lambda t: t.id)
@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_template_passes_without_a_blocking_finding(template: templates.Template, language: str) -> None:
    document = templates.instantiate(template, {}, datetime(2026, 11, 1, tzinfo=UTC), language)  # type: ignore[arg-type]
    stored = campaigns.spec_to_document(campaigns.parse_spec(document))
    assert compliance.blocking(compliance.check(stored)) == []


@pytest.mark.parametrize("mode", sorted(MODE_RULES))
def test_the_test_fixture_campaigns_can_be_published(mode: str) -> None:
    stored = campaigns.spec_to_document(campaigns.parse_spec(campaign_body(mode)))
    assert compliance.blocking(compliance.check(stored)) == []


def test_the_compliance_block_is_part_of_the_campaign_document() -> None:
    spec = campaigns.parse_spec(campaign_body("invite", compliance={"product_value_fen": 5000}))
    assert campaigns.spec_to_document(spec)["compliance"] == {"product_value_fen": 5000, "value_cap_percent": 30}
    with pytest.raises(ValidationError):
        campaigns.parse_spec(campaign_body("invite", compliance={"value_cap_percent": 101}))


# --- the word list ------------------------------------------------------------------------------


def test_the_shipped_word_list_is_valid_and_covers_the_categories() -> None:
    listed = compliance.word_list()
    ids = {c.id for c in listed.categories}
    assert {"induced_sharing", "absolute_terms", "gambling", "medical_financial_promises"} <= ids
    assert {c.severity for c in listed.categories} == {"block", "warn"}


@pytest.mark.parametrize(
    "category",
    [
        {"words": ["最"]},  # one character matches far too much
        {"words": ["集赞", "集 赞"]},  # the same word twice once normalised
        {"severity": "maybe"},
        {"id": "Bad Id"},
    ],
)
def test_a_broken_word_list_is_refused(category: dict[str, Any]) -> None:
    good = {"id": "x", "name": "X", "severity": "block", "reason": "because", "words": ["集赞"]}
    with pytest.raises(ValidationError):
        compliance.WordList.model_validate({"version": 1, "about": "", "categories": [good | category]})


# --- the cost simulation ------------------------------------------------------------------------


def test_poisson_tail_matches_the_closed_forms() -> None:
    assert costs.poisson_tail(0.5, 0) == 1.0
    assert costs.poisson_tail(0.0, 1) == 0.0
    assert costs.poisson_tail(0.5, 1) == pytest.approx(1 - math.exp(-0.5), rel=1e-12)
    assert costs.poisson_tail(2.0, 3) == pytest.approx(1 - 5 * math.exp(-2), rel=1e-12)
    assert costs.poisson_tail(4.0, 2) == pytest.approx(1 - 5 * math.exp(-4), rel=1e-12)


def test_poisson_tail_far_out_is_tiny_but_not_zero() -> None:
    first = math.exp(-0.5) * 0.5**50 / math.factorial(50)
    tail = costs.poisson_tail(0.5, 50)
    # The first term bounds it below; a geometric series of ratio 0.5 / 51 bounds it above.
    assert first <= tail <= first / (1 - 0.5 / 51)
    assert costs.poisson_tail(0.5, 10_000) == 0.0 or costs.poisson_tail(0.5, 10_000) < 1e-300


def test_spread_below_one_sums_the_geometric_series() -> None:
    grown = costs.spread(1000, 0.5)
    assert (grown.total, grown.invitees, grown.inviters, grown.second_level) == pytest.approx((2000, 1000, 2000, 500))
    assert grown.generations is None


def test_spread_at_or_above_one_stops_after_five_generations() -> None:
    grown = costs.spread(1, 2.0)  # 1, 2, 4, 8, 16, 32
    assert (grown.total, grown.invitees, grown.inviters, grown.second_level) == (63, 62, 31, 60)
    assert grown.generations == costs.MAX_GENERATIONS == 5


def test_invite_ladder_spend_uncapped_and_capped_by_stock() -> None:
    document = invite()
    document["rules"]["milestones"][0]["reward"]["stock"] = 100
    (scenario,) = costs.simulate(document, [1000], 0.5)
    first, second, invitee = scenario["by_reward"]
    reach_one = 2000 * (1 - math.exp(-0.5))
    reach_three = 2000 * (1 - math.exp(-0.5) * (1 + 0.5 + 0.125))
    assert first["expected_count"] == round(reach_one, 2) and first["capped_count"] == 100
    assert first["expected_spend_fen"] == round(reach_one * 500) and first["capped_spend_fen"] == 50_000
    assert second["expected_spend_fen"] == round(reach_three * 2000)
    assert invitee["expected_count"] == 1000 and invitee["expected_spend_fen"] == 300_000
    uncapped = reach_one * 500 + reach_three * 2000 + 300_000
    assert scenario["expected_spend_fen"] == round(uncapped)
    assert scenario["capped_spend_fen"] == round(50_000 + reach_three * 2000 + 300_000)
    assert (scenario["participants"], scenario["total_participants"], scenario["invitees"]) == (1000, 2000, 1000)


def test_the_budget_caps_the_spend() -> None:
    (scenario,) = costs.simulate(invite(budget_fen=100_000), [1000], 0.5)
    assert scenario["capped_spend_fen"] == 100_000 and scenario["budget_exhausted"] is True
    assert scenario["expected_spend_fen"] > 100_000


def test_milestones_beyond_the_per_participant_cap_are_never_reached() -> None:
    document = invite()
    document["rules"]["per_participant_cap"] = 2
    (scenario,) = costs.simulate(document, [1000], 3.0)
    assert scenario["by_reward"][1]["expected_count"] == 0


def test_group_buy_leader_perks_per_formed_group() -> None:
    document = group_buy(leader_perk=coupon("饮品券", 1500, stock=None))
    (scenario,) = costs.simulate(document, [100], 0.5)
    # Groups of 3: the leader needs 2 members.
    assert scenario["by_reward"][0]["expected_count"] == round(200 * (1 - 1.5 * math.exp(-0.5)), 2)
    # Auto-fill forms a group once it has auto_fill_min_members real members (2 unless set: one friend).
    document["rules"]["auto_fill"] = True
    (filled,) = costs.simulate(document, [100], 0.5)
    assert filled["by_reward"][0]["expected_count"] == round(200 * (1 - math.exp(-0.5)), 2)
    document["rules"]["auto_fill_min_members"] = 1
    (alone,) = costs.simulate(document, [100], 0.5)
    assert alone["by_reward"][0]["expected_count"] == 200
    document["rules"]["auto_fill_min_members"] = 3  # the full size: auto-fill never adds anyone
    (full,) = costs.simulate(document, [100], 0.5)
    assert full["by_reward"][0]["expected_count"] == scenario["by_reward"][0]["expected_count"]


def test_assist_prize_and_price_cut() -> None:
    unlock = invite(mode="assist", rules={"goal": "unlock", "helpers_required": 1, "prize": coupon("咖啡", 2200)})
    (scenario,) = costs.simulate(unlock, [100], 0.5)
    assert scenario["by_reward"][0]["expected_count"] == round(200 * (1 - math.exp(-0.5)), 2)
    cut = invite(mode="assist", rules={"goal": "cut_price", "helpers_required": 1, "product": PRODUCT,
                                       "original_price_fen": 10_000, "floor_price_fen": 100})  # fmt: skip
    (scenario,) = costs.simulate(cut, [100], 0.5)
    assert scenario["by_reward"][0]["unit_value_fen"] == 9900 and scenario["by_reward"][0]["type"] == "price_cut"


def test_distribution_commission_on_two_levels() -> None:
    (scenario,) = costs.simulate(distribution(), [100], 0.5, average_order_fen=10_000)
    level_one, level_two = scenario["by_reward"]
    assert (level_one["expected_count"], level_one["expected_spend_fen"]) == (100, 100_000)
    assert (level_two["expected_count"], level_two["expected_spend_fen"]) == (50, 15_000)


def test_distribution_order_value_defaults_to_the_product_value() -> None:
    document = distribution(levels=1, rates_bp=[1000]) | {"compliance": {"product_value_fen": 5000}}
    (scenario,) = costs.simulate(document, [100], 0.5)
    assert scenario["by_reward"][0]["unit_value_fen"] == 500
    (unknown,) = costs.simulate(distribution(levels=1, rates_bp=[1000]), [100], 0.5)
    assert unknown["by_reward"][0]["unit_value_fen"] == 0


def test_one_scenario_per_participant_count_and_k_above_one_is_truncated() -> None:
    scenarios = costs.simulate(copy.deepcopy(invite()), [10, 20], 1.5)
    assert [s["participants"] for s in scenarios] == [10, 20]
    assert all(s["generations"] == 5 for s in scenarios)
    assert scenarios[1]["expected_spend_fen"] == pytest.approx(2 * scenarios[0]["expected_spend_fen"], abs=2)


def test_preview_request_defaults_and_bounds() -> None:
    request = compliance.PreviewRequest.model_validate({})
    assert (request.participants, request.k, request.average_order_fen) == ([1000, 10_000, 100_000], 0.5, None)
    bad_bodies: list[dict[str, Any]] = [{"k": -0.1}, {"k": 11}, {"participants": []}, {"participants": [0]}, {"x": 1}]
    for bad in bad_bodies:
        with pytest.raises(ValidationError):
            compliance.PreviewRequest.model_validate(bad)
