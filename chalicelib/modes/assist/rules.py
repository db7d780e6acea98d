"""Assist (助力/砍价): the cut plan, who may help whom, and what an assist's state means (pure)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from chalicelib.campaigns.rules.spec import AssistRules
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, FissionError, Gone
from chalicelib.referral.rules.rewards import ASSIST_RULE, Grant, grant_of

AssistStatus = Literal["in_progress", "completed", "expired"]
INDEX_SHARDS = 8  # spreads one campaign's started assists over index partitions during a sale


def index_shard(owner: str) -> int:
    return int(hashlib.sha256(owner.encode()).hexdigest()[:8], 16) % INDEX_SHARDS


@dataclass(frozen=True)
class Plan:
    """What an assist must reach: `helpers` cuts within [min_cut, max_cut] that sum to `target`.

    cut_price: the target is original - floor price in fen. unlock: there is no price, so the
    target is virtual, one unit per helper (`target == helpers`, every cut 1), which keeps one
    code path and makes `remaining` read as "friends still needed".
    """

    goal: str
    target: int
    helpers: int
    min_cut: int
    max_cut: int
    time_limit: timedelta
    original_price: int | None = None
    floor_price: int | None = None


def plan(rules: AssistRules) -> Plan:
    helpers = rules.helpers_required
    limit = timedelta(hours=rules.time_limit_hours)
    if rules.goal == "unlock":
        return Plan("unlock", helpers, helpers, 1, 1, limit)
    # The rules model refuses a cut_price assist without its prices and cut bounds.
    original, floor = rules.original_price_fen, rules.floor_price_fen
    assert original is not None and floor is not None
    assert rules.min_cut_fen is not None and rules.max_cut_fen is not None
    return Plan(
        "cut_price", original - floor, helpers, rules.min_cut_fen, rules.max_cut_fen, limit,
        original_price=original, floor_price=floor,
    )  # fmt: skip


def seed(secret: bytes, cid: str, owner: str) -> bytes:
    """Keyed, so nobody can compute in advance which slot of an assist cuts the most."""
    return hmac.new(secret, f"assist\x00{cid}\x00{owner}".encode(), hashlib.sha256).digest()


class _Draws:
    """Uniform integers from HMAC-SHA256 in counter mode: the same seed gives the same draws on
    every Python version and platform, unlike `random.Random`, whose algorithms may change."""

    def __init__(self, seed: bytes) -> None:
        self._seed = seed
        self._counter = 0

    def _word(self) -> int:
        self._counter += 1
        digest = hmac.new(self._seed, self._counter.to_bytes(8, "big"), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big")

    def below(self, bound: int) -> int:
        """Uniform in [0, bound); rejection sampling avoids the modulo bias."""
        span = 1 << 64
        ceiling = span - span % bound
        while True:
            word = self._word()
            if word < ceiling:
                return word % bound

    def between(self, low: int, high: int) -> int:
        return low + self.below(high - low + 1)


def cut_sequence(seed: bytes, target: int, helpers: int, min_cut: int, max_cut: int) -> list[int]:
    """`helpers` cuts, each within [min_cut, max_cut], summing to exactly `target`; reproducible from `seed`.

    Each cut is drawn from the range that still lets the cuts after it finish the job exactly
    (so the sequence never dead-ends), then the order is shuffled: otherwise the last friends
    would mostly get the constrained leftovers.
    """
    if helpers < 1 or min_cut < 1 or min_cut > max_cut:
        raise ValueError("need at least one helper and 1 <= min_cut <= max_cut")
    if not helpers * min_cut <= target <= helpers * max_cut:
        raise ValueError(f"{helpers} cuts of {min_cut}..{max_cut} cannot sum to {target}")
    draws = _Draws(seed)
    cuts: list[int] = []
    remaining = target
    for left in range(helpers, 0, -1):
        low = max(min_cut, remaining - (left - 1) * max_cut)
        high = min(max_cut, remaining - (left - 1) * min_cut)
        cut = draws.between(low, high)
        cuts.append(cut)
        remaining -= cut
    for i in range(len(cuts) - 1, 0, -1):  # Fisher-Yates with the same draws
        j = draws.below(i + 1)
        cuts[i], cuts[j] = cuts[j], cuts[i]
    return cuts


def deadline(started_at: datetime, time_limit: timedelta, campaign_ends_at: datetime) -> datetime:
    """An assist runs for the time limit from its first help, and never past the campaign's end."""
    return min(started_at + time_limit, campaign_ends_at)


def help_day(now: datetime, timezone: str) -> str:
    """The helper's day for the daily limit: the calendar day in the campaign's time zone."""
    return now.astimezone(ZoneInfo(timezone)).date().isoformat()


@dataclass(frozen=True)
class Person:
    """The facts about a participant that recognise the same person behind two codes."""

    code: str
    identity: str
    device_id: str | None
    phone_hash: str | None


def same_person(owner: Person, helper: Person) -> bool:
    return (
        owner.code == helper.code
        or owner.identity == helper.identity
        or (helper.device_id is not None and owner.device_id == helper.device_id)
        or (helper.phone_hash is not None and owner.phone_hash == helper.phone_hash)
    )


def status(slots: int, helpers: int, deadline_at: datetime | None, now: datetime) -> AssistStatus:
    if slots >= helpers:
        return "completed"
    if deadline_at is not None and now >= deadline_at:
        return "expired"
    return "in_progress"


def already_helped(helped: Mapping[str, int], cuts: list[int], helper: str) -> Conflict | None:
    """The answer to a repeat help: it names the helper's cut, so a client retrying after a lost
    response still learns what its help did."""
    if helper not in helped:
        return None
    slot = int(helped[helper])
    details = {"cut": cuts[slot - 1], "slot": slot}
    return Conflict("you have already helped this friend", code=Code.ALREADY_HELPED, details=details)


def refusal(
    helped: Mapping[str, int], cuts: list[int], slots: int, helper: str, deadline_at: datetime, now: datetime
) -> FissionError | None:
    """Why a claim's condition failed, read from the item after the fact (most specific first).

    None when nothing explains it: the assist did not exist at the claim and was started before
    the read. An assist only moves forward, so once it exists a failed claim always has a reason.
    """
    repeat = already_helped(helped, cuts, helper)
    if repeat is not None:
        return repeat
    if slots >= len(cuts):
        return Conflict("enough friends have already helped", code=Code.ASSIST_COMPLETED, details={"helpers": slots})
    if now >= deadline_at:
        return Gone("the time to help has run out", code=Code.ASSIST_EXPIRED, details={"expired_at": iso(deadline_at)})
    return None


@dataclass(frozen=True)
class Snapshot:
    """An owner's assist as stored (None fields: it has not started, nobody has helped yet)."""

    target: int
    helpers_required: int
    cuts_taken: list[int]
    started_at: str | None
    deadline_at: datetime | None
    original_price: int | None = None
    floor_price: int | None = None


def progress(goal: str, snap: Snapshot, now: datetime, campaign_ends_at: datetime) -> dict[str, Any]:
    """The public view of an assist. Only cuts already taken are shown: the plan ahead stays secret."""
    cut = sum(snap.cuts_taken)
    helpers = len(snap.cuts_taken)
    # `campaign_ends_at` is when the campaign stops (earlier than planned when an operator ended it).
    ends = min(snap.deadline_at or campaign_ends_at, campaign_ends_at)
    view: dict[str, Any] = {
        "goal": goal,
        "status": status(helpers, snap.helpers_required, ends, now),
        "target": snap.target,
        "cut_so_far": cut,
        "remaining": snap.target - cut,
        "helpers": helpers,
        "helpers_required": snap.helpers_required,
        "cuts": list(snap.cuts_taken),
        "started_at": snap.started_at,
        "expires_at": iso(ends) if snap.deadline_at else None,
    }
    if goal == "cut_price" and snap.original_price is not None and snap.floor_price is not None:
        view.update(
            original_price_fen=snap.original_price,
            floor_price_fen=snap.floor_price,
            current_price_fen=snap.original_price - cut,
        )
    return view


def prize(rules: AssistRules, floor_price: int | None) -> Grant:
    """What the owner gets once every slot is taken, under the rule id `assist` (so at most once).

    unlock: the campaign's prize. cut_price: the right to buy the product at the floor price,
    a `custom` reward fulfilled by the merchant, with `value_fen` the floor price; what it costs
    the merchant (and the budget) is the discount, original price minus floor price.
    """
    # The rules model refuses an unlock assist without a prize, a cut_price one without its product and prices.
    if rules.goal == "unlock":
        assert rules.prize is not None
        return grant_of(ASSIST_RULE, rules.prize)
    assert rules.product is not None and rules.floor_price_fen is not None and rules.original_price_fen is not None
    price = rules.floor_price_fen if floor_price is None else floor_price
    return Grant(
        rule=ASSIST_RULE, type="custom", name=rules.product.name, value_fen=price, points=0,
        stock_limited=False, cost_fen=max(rules.original_price_fen - price, 0),
    )  # fmt: skip


@dataclass
class AssistRecord:
    cid: str
    tid: str
    owner: str
    goal: str
    target: int
    helpers_required: int
    cuts: list[int]
    started_at: str
    deadline: str
    slots: int = 0
    helped: dict[str, int] = field(default_factory=dict)
    original_price: int | None = None
    floor_price: int | None = None
