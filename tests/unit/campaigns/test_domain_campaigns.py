"""Campaign specs for every mode, their validation, merge patches and the lifecycle state machine."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from chalicelib.campaigns.rules import spec as domain
from chalicelib.campaigns.rules.spec import Action, Status
from chalicelib.core.errors import Conflict, FissionError, Gone

STARTS = "2026-12-01T00:00:00Z"
ENDS = "2026-12-15T00:00:00Z"
PRODUCT = {"sku": "SKU-1", "name": "Full-size serum"}


def reward(name: str = "5 yuan coupon", value_fen: int = 500) -> dict[str, Any]:
    return {"type": "coupon", "name": name, "value_fen": value_fen, "stock": 1000}


RULES: dict[str, dict[str, Any]] = {
    "invite": {
        "qualifying_action": "join",
        "milestones": [{"invites": 1, "reward": reward()}, {"invites": 3, "reward": reward("Sample", 2000)}],
        "decay": {"after_invites": 10, "percent": 50},
        "invitee_reward": reward("Welcome coupon", 300),
    },
    "group_buy": {
        "product": PRODUCT,
        "original_price_fen": 9900,
        "tiers": [{"size": 2, "price_fen": 7900}, {"size": 3, "price_fen": 6900}, {"size": 5, "price_fen": 4900}],
        "leader_perk": {"type": "points", "name": "100 points", "points": 100},
    },
    "assist": {
        "goal": "cut_price",
        "product": PRODUCT,
        "original_price_fen": 10000,
        "floor_price_fen": 100,
        "helpers_required": 10,
        "min_cut_fen": 100,
        "max_cut_fen": 2000,
    },
    "distribution": {"levels": 2, "rates_bp": [1000, 300], "binding": "first_click", "frozen_days": 7},
    "poster": {
        "qualifying_action": "follow",
        "layout_id": "classic",
        "milestones": [{"invites": 5, "reward": {"type": "points", "name": "500 points", "points": 500}}],
    },
}
MODES = list(RULES)


def document(mode: str = "invite", rules: dict[str, Any] | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid campaign document of `mode`, with top-level fields replaced by `overrides`."""
    body: dict[str, Any] = {
        "title": f"{mode} campaign",
        "mode": mode,
        "starts_at": STARTS,
        "ends_at": ENDS,
        "share": {"title": "邀请好友得好礼", "text": "Invite friends and both of you get a coupon"},
        "rules": copy.deepcopy(RULES[mode]) if rules is None else rules,
    }
    body.update(overrides)
    return body


def with_rules(mode: str, **changes: Any) -> dict[str, Any]:
    """A document of `mode` whose rules have `changes` applied (None removes a rule)."""
    rules = {**copy.deepcopy(RULES[mode]), **changes}
    return document(mode, rules={k: v for k, v in rules.items() if v is not None})


def rejection(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors parse_spec raises for `doc` (the test fails if it accepts it)."""
    with pytest.raises(ValidationError) as caught:
        domain.parse_spec(doc)
    return [dict(error) for error in caught.value.errors(include_url=False)]


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# --- valid documents ------------------------------------------------------------------------


MODE_CLASSES: dict[str, type[domain.CampaignBase]] = {
    "invite": domain.InviteCampaign,
    "group_buy": domain.GroupBuyCampaign,
    "assist": domain.AssistCampaign,
    "distribution": domain.DistributionCampaign,
    "poster": domain.PosterCampaign,
}


@pytest.mark.parametrize("mode", MODES)
def test_a_valid_document_of_each_mode_parses_to_its_mode_class(mode: str) -> None:
    spec = domain.parse_spec(document(mode))

    assert type(spec) is MODE_CLASSES[mode]
    assert spec.mode == mode
    assert spec.starts_at == utc(STARTS) and spec.ends_at == utc(ENDS)
    assert spec.timezone == "Asia/Shanghai"


def test_invite_spec_keeps_its_ladder_decay_and_invitee_reward() -> None:
    spec = domain.parse_spec(document("invite"))

    assert isinstance(spec, domain.InviteCampaign)
    assert [m.invites for m in spec.rules.milestones] == [1, 3]
    assert spec.rules.decay == domain.Decay(after_invites=10, percent=50)
    assert spec.rules.invitee_reward is not None and spec.rules.invitee_reward.value_fen == 300
    assert spec.rules.attribution_window_hours == 168


def test_group_buy_spec_keeps_its_tiers_and_defaults_auto_fill_off() -> None:
    spec = domain.parse_spec(document("group_buy"))

    assert isinstance(spec, domain.GroupBuyCampaign)
    assert [(t.size, t.price_fen) for t in spec.rules.tiers] == [(2, 7900), (3, 6900), (5, 4900)]
    assert spec.rules.auto_fill is False
    assert spec.rules.deadline_hours == 24


def test_group_buy_tiers_may_keep_the_same_price_for_a_bigger_group() -> None:
    doc = with_rules("group_buy", tiers=[{"size": 2, "price_fen": 7900}, {"size": 3, "price_fen": 7900}])

    spec = domain.parse_spec(doc)

    assert isinstance(spec, domain.GroupBuyCampaign)
    assert [t.price_fen for t in spec.rules.tiers] == [7900, 7900]


def test_cut_price_assist_accepts_bounds_that_reach_the_target_exactly() -> None:
    # GIVEN 3 helpers cutting 10..20 fen each: anything from 30 to 60 fen is reachable
    doc = with_rules("assist", helpers_required=3, min_cut_fen=10, max_cut_fen=20, original_price_fen=1060)
    doc["rules"]["floor_price_fen"] = 1000

    # WHEN the target is the upper edge (60 fen)
    spec = domain.parse_spec(doc)

    # THEN it is accepted
    assert isinstance(spec, domain.AssistCampaign)
    assert spec.rules.helpers_required == 3


def test_unlock_assist_needs_only_a_prize() -> None:
    rules = {"goal": "unlock", "helpers_required": 5, "prize": reward("Free sample", 0)}

    spec = domain.parse_spec(document("assist", rules=rules))

    assert isinstance(spec, domain.AssistCampaign)
    assert spec.rules.prize is not None and spec.rules.prize.name == "Free sample"
    assert spec.rules.product is None


def test_distribution_defaults_to_one_level_with_one_rate() -> None:
    spec = domain.parse_spec(document("distribution", rules={"rates_bp": [800]}))

    assert isinstance(spec, domain.DistributionCampaign)
    assert spec.rules.levels == 1
    assert spec.rules.binding == "last_click"


def test_poster_spec_keeps_its_layout() -> None:
    spec = domain.parse_spec(document("poster"))

    assert isinstance(spec, domain.PosterCampaign)
    assert spec.rules.layout_id == "classic"
    assert spec.rules.qualifying_action == "follow"


def test_a_campaign_may_run_exactly_the_maximum_number_of_days() -> None:
    ends = utc(STARTS) + timedelta(days=domain.MAX_CAMPAIGN_DAYS)

    spec = domain.parse_spec(document(ends_at=ends.isoformat()))

    assert spec.ends_at - spec.starts_at == timedelta(days=domain.MAX_CAMPAIGN_DAYS)


def test_text_fields_are_stripped_of_surrounding_whitespace() -> None:
    spec = domain.parse_spec(document(title="  Spring invite  "))

    assert spec.title == "Spring invite"


# --- rejections, each with its reason -------------------------------------------------------

VALUE_ERRORS: list[tuple[str, dict[str, Any], str]] = [
    (
        "ladder descending",
        with_rules("invite", milestones=[{"invites": 3, "reward": reward()}, {"invites": 1, "reward": reward()}]),
        "milestones must be in strictly increasing order of invites",
    ),
    (
        "ladder repeating a step",
        with_rules("invite", milestones=[{"invites": 2, "reward": reward()}, {"invites": 2, "reward": reward()}]),
        "milestones must be in strictly increasing order of invites",
    ),
    (
        "poster ladder descending",
        with_rules("poster", milestones=[{"invites": 5, "reward": reward()}, {"invites": 4, "reward": reward()}]),
        "milestones must be in strictly increasing order of invites",
    ),
    (
        "group tiers not ascending in size",
        with_rules("group_buy", tiers=[{"size": 3, "price_fen": 6900}, {"size": 2, "price_fen": 5900}]),
        "tiers must be in strictly increasing order of size",
    ),
    (
        "group tiers repeating a size",
        with_rules("group_buy", tiers=[{"size": 2, "price_fen": 6900}, {"size": 2, "price_fen": 5900}]),
        "tiers must be in strictly increasing order of size",
    ),
    (
        "bigger group priced up",
        with_rules("group_buy", tiers=[{"size": 2, "price_fen": 5900}, {"size": 3, "price_fen": 6900}]),
        "a bigger group must not cost more than a smaller one",
    ),
    (
        "tier priced at the original price",
        with_rules("group_buy", original_price_fen=7900, tiers=[{"size": 2, "price_fen": 7900}]),
        "every tier price must be below original_price_fen",
    ),
    (
        "tier priced above the original price",
        with_rules("group_buy", original_price_fen=7900, tiers=[{"size": 2, "price_fen": 8900}]),
        "every tier price must be below original_price_fen",
    ),
    (
        "assist cuts too small to reach the target",
        with_rules(
            "assist", helpers_required=3, min_cut_fen=10, max_cut_fen=20, original_price_fen=1100, floor_price_fen=1000
        ),
        "3 helpers cutting 10..20 fen each cannot reach exactly 100 fen",
    ),
    (
        "assist cuts too big not to overshoot the target",
        with_rules(
            "assist", helpers_required=3, min_cut_fen=50, max_cut_fen=60, original_price_fen=1100, floor_price_fen=1000
        ),
        "3 helpers cutting 50..60 fen each cannot reach exactly 100 fen",
    ),
    (
        "assist minimum cut above the maximum",
        with_rules("assist", min_cut_fen=300, max_cut_fen=200),
        "min_cut_fen must not exceed max_cut_fen",
    ),
    (
        "assist floor at the original price",
        with_rules("assist", floor_price_fen=10000),
        "floor_price_fen must be below original_price_fen",
    ),
    (
        "cut_price assist without its bounds",
        with_rules("assist", min_cut_fen=None, max_cut_fen=None),
        "a cut_price assist needs min_cut_fen, max_cut_fen",
    ),
    (
        "unlock assist without a prize",
        document("assist", rules={"goal": "unlock", "helpers_required": 5}),
        "an unlock assist needs a prize",
    ),
    (
        "two levels with one rate",
        with_rules("distribution", levels=2, rates_bp=[1000]),
        "rates_bp needs exactly 2 rate(s), one per level",
    ),
    (
        "one level with two rates",
        with_rules("distribution", levels=1, rates_bp=[1000, 300]),
        "rates_bp needs exactly 1 rate(s), one per level",
    ),
    (
        "points reward without points",
        with_rules("poster", milestones=[{"invites": 1, "reward": {"type": "points", "name": "pts"}}]),
        "a points reward needs points > 0",
    ),
    (
        "cash reward without value",
        with_rules("invite", invitee_reward={"type": "cash", "name": "red packet"}),
        "a cash reward needs value_fen > 0",
    ),
    ("ends before it starts", document(ends_at="2026-11-30T00:00:00Z"), "ends_at must be after starts_at"),
    ("ends when it starts", document(ends_at=STARTS), "ends_at must be after starts_at"),
    (
        "runs longer than the maximum",
        document(ends_at=(utc(STARTS) + timedelta(days=366, seconds=1)).isoformat()),
        "a campaign runs at most 366 days",
    ),
    ("naive start time", document(starts_at="2026-12-01T00:00:00"), "times must carry a UTC offset"),
    ("naive end time", document(ends_at="2026-12-15T00:00:00"), "times must carry a UTC offset"),
    ("unknown time zone", document(timezone="Mars/Olympus_Mons"), "unknown time zone 'Mars/Olympus_Mons'"),
    ("time zone folder", document(timezone="Asia"), "unknown time zone 'Asia'"),
    ("time zone path", document(timezone="../../etc/passwd"), "unknown time zone"),
]


@pytest.mark.parametrize(("doc", "reason"), [(d, r) for _, d, r in VALUE_ERRORS], ids=[i for i, _, _ in VALUE_ERRORS])
def test_invalid_document_is_rejected_with_its_reason(doc: dict[str, Any], reason: str) -> None:
    errors = rejection(doc)

    assert [e["type"] for e in errors] == ["value_error"]
    assert reason in errors[0]["msg"]


def test_distribution_deeper_than_two_levels_is_rejected() -> None:
    errors = rejection(with_rules("distribution", levels=3, rates_bp=[1000, 300]))

    assert [(e["type"], e["loc"][-2:]) for e in errors] == [("literal_error", ("rules", "levels"))]


def test_unknown_mode_is_rejected_by_its_tag() -> None:
    errors = rejection(document(mode="lottery", rules={}))

    assert [e["type"] for e in errors] == ["union_tag_invalid"]


def test_blank_title_is_rejected_after_stripping() -> None:
    errors = rejection(document(title="   "))

    assert [(e["type"], e["loc"][-1]) for e in errors] == [("string_too_short", "title")]


UNKNOWN_FIELDS: list[tuple[str, dict[str, Any], tuple[str | int, ...]]] = [
    ("top level", document(colour="red"), ("colour",)),
    ("rules", with_rules("invite", bonus=5), ("rules", "bonus")),
    (
        "a milestone's reward",
        with_rules("invite", milestones=[{"invites": 1, "reward": {**reward(), "expires": "soon"}}]),
        ("rules", "milestones", 0, "reward", "expires"),
    ),
    ("share copy", document(share={"title": "t", "emoji": "🎉"}), ("share", "emoji")),
    ("product", with_rules("group_buy", product={**PRODUCT, "colour": "red"}), ("rules", "product", "colour")),
    (
        "price tier",
        with_rules("group_buy", tiers=[{"size": 2, "price_fen": 100, "discount": 5}]),
        ("rules", "tiers", 0, "discount"),
    ),
    ("distribution rules", with_rules("distribution", levels_max=3), ("rules", "levels_max")),
    ("decay", with_rules("invite", decay={"after_invites": 2, "percent": 50, "floor": 1}), ("rules", "decay", "floor")),
]


@pytest.mark.parametrize(("doc", "path"), [(d, p) for _, d, p in UNKNOWN_FIELDS], ids=[i for i, _, _ in UNKNOWN_FIELDS])
def test_unknown_field_anywhere_is_rejected_as_extra_forbidden(
    doc: dict[str, Any], path: tuple[str | int, ...]
) -> None:
    errors = rejection(doc)

    assert [e["type"] for e in errors] == ["extra_forbidden"]
    # The first element of a location is the union's tag (the mode); the rest is the document path.
    assert errors[0]["loc"][1:] == path


def test_group_buy_tier_priced_at_zero_fen_is_rejected() -> None:
    # GIVEN a tier that gives the product away for free
    doc = with_rules("group_buy", tiers=[{"size": 2, "price_fen": 5000}, {"size": 3, "price_fen": 0}])

    # WHEN it is parsed THEN the zero price is refused (price_fen is declared ge=1)
    errors = rejection(doc)
    assert errors[0]["loc"][-1] == "price_fen"


# --- the stored document --------------------------------------------------------------------


def test_times_are_stored_in_utc_at_second_precision() -> None:
    spec = domain.parse_spec(document(starts_at="2026-12-01T08:00:00.5+08:00", ends_at="2026-12-02T08:30:59.999-02:00"))

    stored = domain.spec_to_document(spec)

    assert stored["starts_at"] == "2026-12-01T00:00:00Z"
    assert stored["ends_at"] == "2026-12-02T10:30:59Z"
    assert spec.starts_at.tzinfo == UTC


def _values(tree: Any) -> list[Any]:
    if isinstance(tree, dict):
        return [v for value in tree.values() for v in _values(value)]
    if isinstance(tree, list):
        return [v for value in tree for v in _values(value)]
    return [tree]


@pytest.mark.parametrize("mode", MODES)
def test_stored_document_has_no_nulls_and_parses_back_to_the_same_spec(mode: str) -> None:
    spec = domain.parse_spec(document(mode))

    stored = domain.spec_to_document(spec)

    assert None not in _values(stored)
    assert domain.parse_spec(stored) == spec


# --- merge patch (RFC 7386) -----------------------------------------------------------------


def test_merge_patch_merges_nested_objects() -> None:
    target = {"title": "a", "rules": {"levels": 2, "rates_bp": [1000, 300]}}

    merged = domain.merge_patch(target, {"rules": {"levels": 1}})

    assert merged == {"title": "a", "rules": {"levels": 1, "rates_bp": [1000, 300]}}


def test_merge_patch_null_deletes_a_member() -> None:
    target = {"title": "a", "rules": {"decay": {"after_invites": 3, "percent": 50}, "cap": 5}}

    merged = domain.merge_patch(target, {"rules": {"decay": None}, "missing": None})

    assert merged == {"title": "a", "rules": {"cap": 5}}


def test_merge_patch_replaces_lists_whole() -> None:
    target = {"rules": {"tiers": [{"size": 2, "price_fen": 100}, {"size": 3, "price_fen": 90}]}}

    merged = domain.merge_patch(target, {"rules": {"tiers": [{"size": 4}]}})

    assert merged == {"rules": {"tiers": [{"size": 4}]}}


def test_merge_patch_does_not_modify_its_target() -> None:
    target = {"rules": {"levels": 2, "binding": "first_click"}}
    before = copy.deepcopy(target)

    domain.merge_patch(target, {"rules": {"levels": None, "binding": "last_click"}})

    assert target == before


# RFC 7386 appendix A, the cases with object targets and patches.
RFC_7386_EXAMPLES: list[Any] = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    pytest.param(
        {},
        {"a": {"bb": {"ccc": None}}},
        {"a": {"bb": {}}},
        id="nulls-inside-a-new-object",
    ),
    pytest.param(
        {"a": "b"},
        {"a": {"c": None}},
        {"a": {}},
        id="nulls-inside-an-object-replacing-a-scalar",
    ),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_7386_EXAMPLES)
def test_merge_patch_follows_rfc_7386_examples(target: dict[str, Any], patch: dict[str, Any], expected: Any) -> None:
    assert domain.merge_patch(target, patch) == expected


# --- lifecycle ------------------------------------------------------------------------------

LEGAL: dict[tuple[Status, Action], Status] = {
    (Status.DRAFT, Action.PUBLISH): Status.ACTIVE,
    (Status.PAUSED, Action.PUBLISH): Status.ACTIVE,
    (Status.ACTIVE, Action.PAUSE): Status.PAUSED,
    (Status.ACTIVE, Action.END): Status.ENDED,
    (Status.PAUSED, Action.END): Status.ENDED,
}
ALL_PAIRS = list(itertools.product(Status, Action))
ILLEGAL = [pair for pair in ALL_PAIRS if pair not in LEGAL]


def test_the_transition_table_covers_every_pair() -> None:
    assert len(LEGAL) + len(ILLEGAL) == len(Status) * len(Action) == 12


@pytest.mark.parametrize(("status", "action"), list(LEGAL), ids=lambda v: str(v))
def test_legal_transition_gives_the_next_status(status: Status, action: Action) -> None:
    assert domain.next_status(status, action) is LEGAL[(status, action)]


@pytest.mark.parametrize(("status", "action"), ILLEGAL, ids=lambda v: str(v))
def test_illegal_transition_is_a_conflict_naming_the_allowed_actions(status: Status, action: Action) -> None:
    with pytest.raises(Conflict) as caught:
        domain.next_status(status, action)

    assert caught.value.code == "ILLEGAL_TRANSITION"
    assert caught.value.status == 409
    allowed = sorted(a.value for (s, a) in LEGAL if s is status)
    assert caught.value.details == {"status": status.value, "action": action.value, "allowed": allowed}


@pytest.mark.parametrize("status", [Status.DRAFT, Status.PAUSED])
def test_draft_and_paused_campaigns_are_editable(status: Status) -> None:
    domain.ensure_editable(status)


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.ENDED])
def test_active_and_ended_campaigns_are_not_editable(status: Status) -> None:
    with pytest.raises(Conflict) as caught:
        domain.ensure_editable(status)

    assert caught.value.code == "CAMPAIGN_NOT_EDITABLE"
    assert caught.value.details == {"status": status.value}


def test_only_a_draft_can_be_deleted() -> None:
    domain.ensure_deletable(Status.DRAFT)
    for status in (Status.ACTIVE, Status.PAUSED, Status.ENDED):
        with pytest.raises(Conflict) as caught:
            domain.ensure_deletable(status)
        assert caught.value.code == "CAMPAIGN_NOT_DELETABLE"


NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def test_a_campaign_ending_later_is_publishable() -> None:
    domain.ensure_publishable(NOW + SECOND, NOW)


@pytest.mark.parametrize("ends_at", [NOW, NOW - SECOND], ids=["ending-now", "ended"])
def test_a_campaign_whose_end_has_come_is_not_publishable(ends_at: datetime) -> None:
    with pytest.raises(Conflict) as caught:
        domain.ensure_publishable(ends_at, NOW)

    assert caught.value.code == "CAMPAIGN_WINDOW_PASSED"


START, END = datetime(2026, 12, 1, tzinfo=UTC), datetime(2026, 12, 15, tzinfo=UTC)

PHASES: list[tuple[Status, datetime, str]] = [
    (Status.DRAFT, START - SECOND, "draft"),
    (Status.DRAFT, START, "draft"),
    (Status.DRAFT, END, "draft"),
    (Status.ACTIVE, START - SECOND, "upcoming"),
    (Status.ACTIVE, START, "live"),
    (Status.ACTIVE, END - SECOND, "live"),
    (Status.ACTIVE, END, "ended"),
    (Status.PAUSED, START - SECOND, "paused"),
    (Status.PAUSED, END - SECOND, "paused"),
    (Status.PAUSED, END, "ended"),
    (Status.ENDED, START - SECOND, "ended"),
    (Status.ENDED, START, "ended"),
]


@pytest.mark.parametrize(("status", "now", "expected"), PHASES, ids=[f"{s}-{n:%dT%H%M%S}" for s, n, _ in PHASES])
def test_phase_combines_status_and_window_at_its_edges(status: Status, now: datetime, expected: str) -> None:
    assert domain.phase(status, START, END, now) == expected


@pytest.mark.parametrize("now", [START, END - SECOND], ids=["at-start", "last-second"])
def test_a_live_campaign_is_open(now: datetime) -> None:
    domain.ensure_open(Status.ACTIVE, START, END, now)


def test_an_active_campaign_before_its_start_is_not_open_yet() -> None:
    with pytest.raises(Conflict) as caught:
        domain.ensure_open(Status.ACTIVE, START, END, START - SECOND)

    assert caught.value.code == "CAMPAIGN_NOT_STARTED"
    assert caught.value.details == {"starts_at": START.isoformat()}


def test_a_paused_campaign_is_not_open() -> None:
    with pytest.raises(Conflict) as caught:
        domain.ensure_open(Status.PAUSED, START, END, START)

    assert caught.value.code == "CAMPAIGN_PAUSED"


@pytest.mark.parametrize(
    ("status", "now"),
    [(Status.ACTIVE, END), (Status.PAUSED, END), (Status.ENDED, START)],
    ids=["active-at-end", "paused-at-end", "ended-early"],
)
def test_an_ended_campaign_is_gone(status: Status, now: datetime) -> None:
    with pytest.raises(Gone) as caught:
        domain.ensure_open(status, START, END, now)

    assert caught.value.code == "CAMPAIGN_ENDED"
    assert caught.value.status == 410
    assert caught.value.details == {"ends_at": END.isoformat()}


def test_a_draft_campaign_is_not_open_to_participants() -> None:
    # GIVEN a campaign that was never published, inside its window
    # WHEN a participant action checks it THEN it is refused
    with pytest.raises(FissionError):
        domain.ensure_open(Status.DRAFT, START, END, START + SECOND)
