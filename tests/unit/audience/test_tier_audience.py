"""The tier as the audience slice sees it: the `tier_changed` trigger, the profile's tier and the segment fields."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from chalicelib.audience.rules import automations, segments
from chalicelib.audience.rules.profiles import Profile, TierFact, apply, segment_view
from chalicelib.table.images import TierImage

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _image(tier: str | None, rank: int, at: str, uid: str = "u_1") -> TierImage:
    return TierImage(cid="", tid="t1", uid=uid, tier=tier, name=tier and tier.title(), rank=rank, changed_at=at)


def test_a_change_of_tier_fires_tier_changed_once_per_change_about_the_person() -> None:
    old, new = _image("silver", 1, "2026-05-01T00:00:00Z"), _image("gold", 2, "2026-06-01T00:00:00Z")
    [firing] = automations.firings("tier", "MODIFY", old, new)
    assert firing.type == "tier_changed" and firing.uid == "u_1" and firing.code is None and firing.cid == ""
    assert firing.data == {"from": "silver", "to": "gold", "to_name": "Gold", "rank": 2, "direction": "up"}
    assert firing.key == automations.firings("tier", "MODIFY", old, new)[0].key
    [down] = automations.firings("tier", "MODIFY", new, _image(None, 0, "2026-07-01T00:00:00Z"))
    assert down.data["direction"] == "down" and down.data["to"] is None
    assert automations.firings("tier", "MODIFY", new, new) == []  # the review bumped the date only
    assert automations.firings("tier", "INSERT", None, _image("gold", 2, "x", uid="c_abc")) == []


def test_a_tier_changed_rule_is_about_the_person_not_a_campaign() -> None:
    automations.Trigger(type="tier_changed")
    with pytest.raises(ValidationError, match="about the person"):
        automations.Trigger(type="tier_changed", campaign_id="c_1")


def test_the_profile_keeps_the_latest_tier_and_it_is_not_activity() -> None:
    profile = apply(Profile(tid="t1", uid="u_1"), [TierFact("gold", "Gold", 2, "2026-06-01T00:00:00Z")])
    stale = apply(profile, [TierFact("silver", "Silver", 1, "2026-05-01T00:00:00Z")])
    assert stale.tier == {"id": "gold", "name": "Gold", "rank": 2, "at": "2026-06-01T00:00:00Z"}
    assert stale.last_seen is None
    assert apply(stale, [TierFact("gold", "Gold", 2, "2026-06-01T00:00:00Z")]) == stale
    view = segment_view(stale)
    assert view["tier"] == "gold" and view["tier_rank"] == 2
    assert segments.evaluate(segments.parse("tier = gold AND tier_rank >= 2"), view, NOW)
    nobody = segment_view(Profile(tid="t1", uid="u_2"))
    assert nobody["tier"] is None and nobody["tier_rank"] == 0
    assert not segments.evaluate(segments.parse("tier != gold"), nobody, NOW)  # unknown: neither = nor !=
    with pytest.raises(segments.SegmentError, match="only be compared with"):
        segments.parse("tier > gold")
