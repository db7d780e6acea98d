"""Profiles: one person per tenant, across campaigns, built from the engine's facts (no I/O).

A profile is rebuilt from facts that carry absolute state (a participant's invite count, an
order's net amount, whether a reward is live), never from deltas: applying a fact twice, as a
redelivered stream batch does, leaves the profile as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TAG_PATTERN = r"^[a-z0-9_]{1,40}$"
TAG_KINDS = ("behaviour", "consumption", "source", "custom")
MAX_TAGS_PER_PROFILE = 200
MAX_TENANT_TAG_RULES = 50
# A `from_<channel>` tag follows the person's first channel; the channel grammar is the join's.
SOURCE_TAG_PREFIX = "from_"


@dataclass(frozen=True)
class TagRule:
    """condition -> tag: `rule` is a segment expression over profile fields (docs/segments.md)."""

    name: str
    kind: str
    rule: str | None
    description: str = ""
    builtin: bool = False
    enabled: bool = True


# Behaviour, consumption and source tags every tenant has; each can be switched off.
BUILTIN_TAGS: tuple[TagRule, ...] = (
    TagRule("joined_group", "behaviour", "groups >= 1", "joined or opened a group", builtin=True),
    TagRule("helped_3_times", "behaviour", "helps >= 3", "helped friends at least 3 times", builtin=True),
    TagRule("brought_friends", "behaviour", "invites >= 1", "brought at least one counted friend", builtin=True),
    TagRule("spend_over_500", "consumption", "spend > 50000", "spent over 500 yuan (net of refunds)", builtin=True),
    TagRule("repeat_buyer", "consumption", "orders >= 2", "paid at least 2 orders not refunded", builtin=True),
    TagRule("invited", "source", "invited = true", "joined through someone's invitation", builtin=True),
    TagRule("from_channel", "source", None, "from_<channel>: the channel of the first join", builtin=True),
    # Follows the daily churn score (docs/retention.md): on from the tenant's alert level up, off below it.
    TagRule("churn_risk", "behaviour", None, "churn risk at or above the tenant's alert level", builtin=True),
)
CHURN_TAG = "churn_risk"
BUILTIN_NAMES = frozenset(t.name for t in BUILTIN_TAGS)


# ---- facts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParticipantFact:
    """A participant's state as of one change: everything the profile keeps about it."""

    code: str
    cid: str
    joined_at: str
    channel: str | None = None
    invited: bool = False
    invites: int = 0
    qualified: bool = False
    nickname: str | None = None
    contact_enc: str | None = None
    birthday: str | None = None
    erased: bool = False


@dataclass(frozen=True)
class RewardFact:
    rid: str  # "{code}|{rule}"
    live: bool  # issued or claimed
    at: str


@dataclass(frozen=True)
class OrderFact:
    oid: str
    net_fen: int  # what the order is worth now: 0 once refunded
    at: str


@dataclass(frozen=True)
class GroupFact:
    gid: str
    at: str


@dataclass(frozen=True)
class HelpFact:
    owner: str  # whose assist they helped
    at: str


@dataclass(frozen=True)
class SeenFact:
    """The person used a landing page (a beacon carrying their token): activity, nothing else."""

    at: str


@dataclass(frozen=True)
class TierFact:
    """The person's membership tier (the loyalty slice's tier item): not activity. The latest change wins."""

    tier: str | None
    name: str | None
    rank: int
    at: str  # when the tier changed


@dataclass(frozen=True)
class ChurnFact:
    """The daily churn score's verdict: the level, and whether it reaches the tenant's alert level. Not activity."""

    level: str
    alert: bool


Fact = ParticipantFact | RewardFact | OrderFact | GroupFact | HelpFact | SeenFact | TierFact | ChurnFact


@dataclass
class Profile:
    tid: str
    uid: str
    version: int = 0
    nickname: str | None = None
    birthday: str | None = None  # MM-DD
    first_seen: str | None = None
    last_seen: str | None = None
    # code -> {"cid", "joined_at", "channel", "invited", "invites", "qualified", "contact_enc"}
    parts: dict[str, dict[str, Any]] = field(default_factory=dict)
    rewards: set[str] = field(default_factory=set)
    orders: dict[str, int] = field(default_factory=dict)
    groups: set[str] = field(default_factory=set)
    helps: set[str] = field(default_factory=set)
    # tag -> when it was added
    auto_tags: dict[str, str] = field(default_factory=dict)
    manual_tags: dict[str, str] = field(default_factory=dict)
    # {"id", "name", "rank", "at"}: the membership tier, as of its last change (None: never had one)
    tier: dict[str, Any] | None = None
    # The daily churn score's level and alert (docs/retention.md); the risk itself is kept beside the profile.
    churn_level: str | None = None
    churn_alert: bool = False

    @property
    def tags(self) -> dict[str, str]:
        return {**self.auto_tags, **self.manual_tags}

    @property
    def contacts(self) -> list[str]:
        """The joins' contact ciphertexts, oldest first: a later join's field wins when merged."""
        ordered = sorted(self.parts.values(), key=lambda p: str(p["joined_at"]))
        return [str(p["contact_enc"]) for p in ordered if p.get("contact_enc")]

    @property
    def campaign_ids(self) -> set[str]:
        return {str(p["cid"]) for p in self.parts.values()}

    @property
    def source(self) -> str | None:
        """The channel of the person's first join (first touch)."""
        first = min(self.parts.values(), key=lambda p: str(p["joined_at"]), default=None)
        return str(first["channel"]) if first and first.get("channel") else None

    @property
    def spend_fen(self) -> int:
        return sum(max(v, 0) for v in self.orders.values())

    @property
    def paid_orders(self) -> int:
        return sum(1 for v in self.orders.values() if v > 0)


def _seen(profile: Profile, at: str) -> None:
    if at and (profile.first_seen is None or at < profile.first_seen):
        profile.first_seen = at
    if at and (profile.last_seen is None or at > profile.last_seen):
        profile.last_seen = at


def apply(profile: Profile, facts: Iterable[Fact]) -> Profile:
    """The profile with the facts applied; idempotent and order-independent for equal facts."""
    out = replace(
        profile, parts={k: dict(v) for k, v in profile.parts.items()}, rewards=set(profile.rewards),
        orders=dict(profile.orders), groups=set(profile.groups), helps=set(profile.helps),
        auto_tags=dict(profile.auto_tags), manual_tags=dict(profile.manual_tags),
    )  # fmt: skip
    for fact in facts:
        if isinstance(fact, ParticipantFact):
            if fact.erased:
                # The person erased their data in this campaign: the profile forgets the campaign and
                # every personal field (another campaign's next change brings back only its own).
                out.parts.pop(fact.code, None)
                out.nickname = out.birthday = None
                continue
            out.parts[fact.code] = {
                "cid": fact.cid, "joined_at": fact.joined_at, "channel": fact.channel, "invited": fact.invited,
                "invites": fact.invites, "qualified": fact.qualified,
                # Each join's contact, so one without a phone never hides another's (merged when read).
                **({"contact_enc": fact.contact_enc} if fact.contact_enc else {}),
            }  # fmt: skip
            out.nickname = fact.nickname or out.nickname
            out.birthday = fact.birthday or out.birthday
            _seen(out, fact.joined_at)
        elif isinstance(fact, RewardFact):
            (out.rewards.add if fact.live else out.rewards.discard)(fact.rid)
            _seen(out, fact.at)
        elif isinstance(fact, OrderFact):
            out.orders[fact.oid] = fact.net_fen
            _seen(out, fact.at)
        elif isinstance(fact, GroupFact):
            out.groups.add(fact.gid)
            _seen(out, fact.at)
        elif isinstance(fact, HelpFact):
            out.helps.add(fact.owner)
            _seen(out, fact.at)
        elif isinstance(fact, TierFact):
            if out.tier is None or str(out.tier.get("at") or "") <= fact.at:
                out.tier = {"id": fact.tier, "name": fact.name, "rank": fact.rank, "at": fact.at}
        elif isinstance(fact, ChurnFact):
            out.churn_level, out.churn_alert = fact.level, fact.alert
        else:
            _seen(out, fact.at)
    return out


def segment_view(profile: Profile) -> dict[str, Any]:
    """The fields the segment language sees (docs/segments.md)."""
    return {
        "tags": set(profile.tags),
        "campaign_ids": profile.campaign_ids,
        "spend": profile.spend_fen,
        "orders": profile.paid_orders,
        "invites": sum(int(p.get("invites", 0)) for p in profile.parts.values()),
        "rewards": len(profile.rewards),
        "campaigns": len(profile.campaign_ids),
        "groups": len(profile.groups),
        "helps": len(profile.helps),
        "source": profile.source,
        "invited": any(bool(p.get("invited")) for p in profile.parts.values()),
        "first_seen": profile.first_seen,
        "last_seen": profile.last_seen,
        "birthday": profile.birthday,
        "tier": profile.tier.get("id") if profile.tier else None,
        "tier_rank": int(profile.tier.get("rank") or 0) if profile.tier else 0,
        "churn_level": profile.churn_level,
    }


def auto_tags(
    profile: Profile, rules: Iterable[TagRule], holds: Callable[[str, dict[str, Any]], bool], at: str
) -> tuple[dict[str, str], set[str], set[str]]:
    """The profile's auto tags after evaluating the rules: (tags with added times, added, removed).

    `holds(rule_text, view) -> bool` evaluates one condition. A tag that still holds keeps the time
    it was first added; a tag whose condition no longer holds goes.
    """
    view = segment_view(profile)
    wanted: set[str] = set()
    for rule in rules:
        if not rule.enabled:
            continue
        if rule.name == "from_channel":
            if view["source"]:
                wanted.add(f"{SOURCE_TAG_PREFIX}{view['source']}")
        elif rule.name == CHURN_TAG:
            if profile.churn_alert:
                wanted.add(CHURN_TAG)
        elif rule.rule and holds(rule.rule, view):
            wanted.add(rule.name)
    current = profile.auto_tags
    result = {tag: current.get(tag, at) for tag in sorted(wanted)[:MAX_TAGS_PER_PROFILE]}
    return result, set(result) - set(current), set(current) - set(result)


def merge_rules(stored: Mapping[str, TagRule]) -> list[TagRule]:
    """The tenant's rules: the built-ins (as switched on or off by the tenant) and its own."""
    merged = [replace(b, enabled=stored[b.name].enabled) if b.name in stored else b for b in BUILTIN_TAGS]
    return merged + [r for name, r in sorted(stored.items()) if name not in BUILTIN_NAMES]


# ---- requests -----------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TagCreate(_Strict):
    """A tag: `custom` tags are set by hand; a `rule` makes it an auto tag (condition -> tag)."""

    name: str = Field(pattern=TAG_PATTERN)
    kind: str = Field(default="custom", pattern=r"^(behaviour|consumption|source|custom)$")
    description: str = Field(default="", max_length=200)
    rule: str | None = Field(default=None, min_length=1, max_length=1000)


class TagUpdate(_Strict):
    description: str | None = Field(default=None, max_length=200)
    rule: str | None = Field(default=None, min_length=1, max_length=1000)
    enabled: bool | None = None


class TagAssign(_Strict):
    """Add (or with `remove`, take away) a manual tag on up to 500 profiles at once."""

    uids: list[str] = Field(min_length=1, max_length=500)
    remove: bool = False


class SegmentCreate(_Strict):
    name: str = Field(min_length=1, max_length=80)
    expression: str = Field(min_length=1, max_length=1000)


class SegmentUpdate(_Strict):
    name: str | None = Field(default=None, min_length=1, max_length=80)
    expression: str | None = Field(default=None, min_length=1, max_length=1000)


class SegmentPreview(_Strict):
    expression: str = Field(min_length=1, max_length=1000)
