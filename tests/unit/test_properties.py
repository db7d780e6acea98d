"""Property-based tests of the rule validators and the engine's pure rules (Hypothesis).

Examples are derandomised and bounded so the run is the same every time and stays quick.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from chalicelib.analytics.rules import counting
from chalicelib.campaigns.rules import spec as campaigns
from chalicelib.modes.assist import rules as assists
from chalicelib.referral.rules import rewards
from chalicelib.table.images import ParticipantImage
from tests.conftest import campaign_body

PROPERTIES = settings(max_examples=150, derandomize=True, deadline=None)

json_scalars = (
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@PROPERTIES
@given(mode=st.sampled_from([m.value for m in campaigns.Mode]), rules=json_values, extra=json_values)
def test_any_document_either_validates_or_is_a_validation_error(mode: str, rules: Any, extra: Any) -> None:
    """Hostile campaign documents never raise anything but a ValidationError (which the API turns into a 422)."""
    document = {**campaign_body(mode), "rules": rules}
    if isinstance(extra, dict):
        document.update({k: v for k, v in extra.items() if k not in ("mode",)})
    try:
        campaigns.parse_spec(document)
    except ValidationError:
        pass


ladder = st.lists(st.integers(1, 10_000), min_size=1, max_size=10, unique=True).map(sorted)


@PROPERTIES
@given(
    steps=ladder,
    counts=st.lists(st.integers(0, 12_000), min_size=1, max_size=8),
    cap=st.none() | st.integers(1, 10_000),
)
def test_milestones_are_granted_once_each_and_only_when_reached(
    steps: list[int], counts: list[int], cap: int | None
) -> None:
    rules = {
        "milestones": [{"invites": s, "reward": {"type": "points", "name": f"p{s}", "points": 10}} for s in steps],
        "per_participant_cap": cap,
    }
    ladder = campaigns.LadderRules.model_validate(rules)
    granted: set[str] = set()
    for counted in sorted(counts):  # progress only grows
        for grant in rewards.ladder_grants(ladder, counted, granted):
            assert grant.rule not in granted
            granted.add(grant.rule)
    final = min(max(counts), cap) if cap else max(counts)
    assert granted == {rewards.milestone_rule(i) for i, s in enumerate(steps) if s <= final}


@st.composite
def cut_plans(draw: st.DrawFn) -> tuple[int, int, int, int]:
    helpers = draw(st.integers(1, 200))
    low = draw(st.integers(1, 500))
    high = draw(st.integers(low, 5_000))
    target = draw(st.integers(helpers * low, helpers * high))
    return target, helpers, low, high


@PROPERTIES
@given(plan=cut_plans(), seed=st.binary(min_size=16, max_size=32))
def test_cuts_stay_in_bounds_and_reach_the_target_exactly(plan: tuple[int, int, int, int], seed: bytes) -> None:
    target, helpers, low, high = plan
    cuts = assists.cut_sequence(seed, target, helpers, low, high)
    assert len(cuts) == helpers
    assert sum(cuts) == target
    assert all(low <= cut <= high for cut in cuts)


def _inviter(counted: frozenset[str]) -> ParticipantImage:
    """An inviter's stream image: only `counted` matters here (the rest is what every participant has)."""
    return ParticipantImage(cid="c", tid="t", code="inviter", joined_at="2026-12-01T00:00:00Z", counted=counted)


@PROPERTIES
@given(
    before=st.frozensets(st.text(min_size=1, max_size=8), max_size=20),
    added=st.frozensets(st.text(min_size=1, max_size=8), max_size=20),
)
def test_offspring_squares_telescope_to_the_square_of_the_total(before: frozenset[str], added: frozenset[str]) -> None:
    """Counting an inviter's invitees in any number of steps adds up to (total)^2, whatever the steps."""
    old = _inviter(before)
    new = _inviter(before | added)
    first = sum(
        c.amount
        for c in counting.participant("MODIFY", _inviter(frozenset()), old, "2026-12-01T00:00:00Z")
        if c.metric == "offspring_sq"
    )
    second = sum(
        c.amount for c in counting.participant("MODIFY", old, new, "2026-12-01T00:00:00Z") if c.metric == "offspring_sq"
    )
    assert first + second == len(before | added) ** 2


@PROPERTIES
@given(target=json_values, patch=json_values)
def test_a_merge_patch_of_null_removes_and_of_a_value_sets(target: Any, patch: Any) -> None:
    if not isinstance(target, dict) or not isinstance(patch, dict):
        return
    merged = campaigns.merge_patch(target, patch)
    for key, value in patch.items():
        if value is None:
            assert key not in merged
        elif not isinstance(value, dict):
            assert merged[key] == value
    for key in target:
        if key not in patch:
            assert merged[key] == target[key]
