"""First valid click wins within the attribution window; a bare ref is a touch at join time."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.campaigns.rules.spec import CampaignRules, GroupBuyRules, InviteRules
from chalicelib.referral.rules.participants import (
    CLICK_SKEW_SECONDS,
    Inviter,
    Refusal,
    Touch,
    attribution_window_seconds,
    first_touch,
)

CID = "cmp_a"
NOW = 1_800_000_000
WINDOW = 168 * 3600
HOUR = 3600
A, B, C = "aaaaaaaa", "bbbbbbbb", "cccccccc"


class Directory:
    """The participants a lookup can find, and which codes were read."""

    def __init__(self, *inviters: Inviter) -> None:
        self.known = {i.code: i for i in inviters}
        self.reads: list[str] = []

    def __call__(self, code: str) -> Inviter | None:
        self.reads.append(code)
        return self.known.get(code)


def inviter(code: str, cid: str = CID, identity: str | None = None, device_id: str | None = None) -> Inviter:
    return Inviter(code=code, cid=cid, identity=identity or f"id-{code}", device_id=device_id, phone_hash=None)


def choose(
    directory: Directory, clicks: list[Touch | None], ref: str | None = None, **joiner: Any
) -> tuple[str | None, Refusal | None]:
    person = {"identity": "id-joiner", "device_id": None, "phone_hash": None, **joiner}
    return first_touch(clicks, ref, now=NOW, window_seconds=WINDOW, lookup=directory, cid=CID, **person)


def test_the_earliest_valid_click_wins_and_later_codes_are_not_read() -> None:
    directory = Directory(inviter(A), inviter(B))
    assert choose(directory, [Touch(A, NOW - 2 * HOUR), Touch(B, NOW - HOUR)]) == (A, None)
    assert directory.reads == [A]


def test_clicks_are_ordered_by_their_time_not_by_the_order_given() -> None:
    directory = Directory(inviter(A), inviter(B))
    assert choose(directory, [Touch(B, NOW - HOUR), Touch(A, NOW - 2 * HOUR)]) == (A, None)


def test_a_click_older_than_the_window_is_passed_over_without_a_read() -> None:
    directory = Directory(inviter(A), inviter(B))
    assert choose(directory, [Touch(A, NOW - WINDOW - 1), Touch(B, NOW - HOUR)]) == (B, None)
    assert directory.reads == [B]


def test_a_click_exactly_at_the_window_edge_still_counts() -> None:
    assert choose(Directory(inviter(A)), [Touch(A, NOW - WINDOW)]) == (A, None)


def test_a_click_from_the_future_beyond_the_skew_is_invalid() -> None:
    directory = Directory(inviter(A), inviter(B))
    assert choose(directory, [Touch(A, NOW + CLICK_SKEW_SECONDS + 1)]) == (None, "invalid_click")
    assert choose(directory, [Touch(A, NOW + CLICK_SKEW_SECONDS)]) == (A, None)
    assert directory.reads == [A]


def test_a_valid_click_beats_the_ref() -> None:
    directory = Directory(inviter(A), inviter(B))
    assert choose(directory, [Touch(A, NOW - HOUR)], ref=B) == (A, None)
    assert directory.reads == [A]


def test_the_ref_is_the_fallback_when_no_click_is_valid() -> None:
    directory = Directory(inviter(A), inviter(B))
    assert choose(directory, [None, Touch(A, NOW - WINDOW - HOUR)], ref=B) == (B, None)
    assert choose(Directory(inviter(B)), [], ref=B) == (B, None)


def test_a_ref_alone_keeps_its_refusals() -> None:
    directory = Directory(inviter(A, cid="cmp_other"), inviter(B, identity="id-joiner"))
    assert choose(directory, [], ref="zzzzzzzz") == (None, "unknown_code")
    assert choose(directory, [], ref="not a code") == (None, "unknown_code")
    assert choose(directory, [], ref=A) == (None, "other_campaign")
    assert choose(directory, [], ref=B) == (None, "self_invite")
    assert "not a code" not in directory.reads


def test_when_nobody_wins_the_ref_gives_the_reason() -> None:
    directory = Directory(inviter(A))
    assert choose(directory, [Touch(A, NOW - WINDOW - 1)], ref="zzzzzzzz") == (None, "unknown_code")


def test_only_expired_clicks_and_no_ref_is_click_expired() -> None:
    clicks: list[Touch | None] = [Touch(A, NOW - WINDOW - 1), Touch(B, NOW - 2 * WINDOW)]
    assert choose(Directory(inviter(A), inviter(B)), clicks) == (None, "click_expired")


def test_only_forged_clicks_is_invalid_click() -> None:
    assert choose(Directory(inviter(A)), [None, None]) == (None, "invalid_click")


def test_no_clicks_and_no_ref_credits_nobody_without_a_reason() -> None:
    directory = Directory(inviter(A))
    assert choose(directory, []) == (None, None)
    assert directory.reads == []


def test_a_self_click_is_skipped_for_the_next_one() -> None:
    directory = Directory(inviter(A, device_id="dev-1"), inviter(B))
    assert choose(directory, [Touch(A, NOW - 3 * HOUR), Touch(B, NOW - HOUR)], device_id="dev-1") == (B, None)


def test_clicks_from_another_campaign_or_unknown_codes_are_skipped() -> None:
    directory = Directory(inviter(A, cid="cmp_other"), inviter(C))
    clicks: list[Touch | None] = [Touch(A, NOW - 3 * HOUR), Touch(B, NOW - 2 * HOUR), Touch(C, NOW - HOUR)]
    assert choose(directory, clicks) == (C, None)


def test_each_code_is_read_at_most_once() -> None:
    directory = Directory(inviter(A, identity="id-joiner"))
    clicks: list[Touch | None] = [Touch(A, NOW - 3 * HOUR), Touch(A, NOW - 2 * HOUR)]
    assert choose(directory, clicks, ref=A) == (None, "self_invite")
    assert directory.reads == [A]


LADDER = {"milestones": [{"invites": 1, "reward": {"type": "points", "name": "P", "points": 1}}]}
GROUP_BUY = {"product": {"sku": "S", "name": "P"}, "original_price_fen": 1000, "tiers": [{"size": 2, "price_fen": 900}]}


@pytest.mark.parametrize(
    ("rules", "hours"),
    [
        (InviteRules.model_validate({**LADDER, "attribution_window_hours": 24}), 24),
        (InviteRules.model_validate(LADDER), 168),
        (GroupBuyRules.model_validate(GROUP_BUY), 168),  # a mode without the rule
    ],
)
def test_the_window_comes_from_the_rules_or_defaults_to_a_week(rules: CampaignRules, hours: int) -> None:
    assert attribution_window_seconds(rules) == hours * 3600
