"""The stream's images as typed records: one frozen record type per entity that a stream handler reads.

A `Change` (table/changes.py) reads each image once, into the type its entity names (`IMAGE_TYPES`);
handlers then read fields, never keys of a dict. A record holds the attributes the handlers read,
named as in table/models.py (or as the store that writes the item names them), with their types:
numbers as `int`, string sets as `frozenset[str]` (empty when absent: DynamoDB stores no empty
set), attributes that may be absent as `X | None`. An attribute the item always has is required,
and an image without it is refused (`UnreadableImage`). Entities no handler reads have no type.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Self

_NO_HELPERS: Mapping[str, int] = MappingProxyType({})


class UnreadableImage(ValueError):
    """An image that is not a record of its entity's type (an attribute it always has is missing)."""


def _int(value: Any) -> int | None:
    """A DynamoDB number (a `Decimal` once deserialised) as an int; every number this table stores is whole."""
    return None if value is None else int(value)


def _json_list(value: Any) -> list[Any] | None:
    """A JSON attribute holding a list: stored as JSON text."""
    decoded = json.loads(value) if isinstance(value, str) else value
    return None if decoded is None else list(decoded)


@dataclass(frozen=True, slots=True, kw_only=True)
class Image:
    """The base of the record types: every entity the stream's handlers read belongs to a campaign."""

    entity: ClassVar[str]
    cid: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        """The record of one deserialised image (numbers as `Decimal`, string sets as `set`)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignImage(Image):
    entity: ClassVar[str] = "campaign"
    tid: str
    status: str
    mode: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(cid=raw["cid"], tid=raw["tid"], status=raw["status"], mode=raw.get("mode"))


@dataclass(frozen=True, slots=True, kw_only=True)
class ParticipantImage(Image):
    entity: ClassVar[str] = "participant"
    tid: str
    code: str
    joined_at: str
    person: str | None = None
    contact_enc: str | None = None
    birthday: str | None = None
    nickname: str | None = None
    phone_hash: str | None = None
    device_id: str | None = None
    channel: str | None = None
    inviter: str | None = None
    qualified_at: str | None = None
    counted: frozenset[str] = frozenset()
    rewarded: frozenset[str] = frozenset()
    variant: str | None = None
    depth: int | None = None
    inviter_joined_at: str | None = None
    ip_hash: str | None = None
    risk_score: int | None = None
    risk_reasons: list[dict[str, Any]] | None = None
    review: str | None = None
    erasing_at: str | None = None
    erased_at: str | None = None
    identity: str | None = None  # the keyed hash of the merchant's id (an existing customer is found by it)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        get = raw.get
        counted, rewarded = get("counted"), get("rewarded")
        return cls(
            cid=raw["cid"], tid=raw["tid"], code=raw["code"], joined_at=raw["joined_at"], person=get("person"),
            contact_enc=get("contact_enc"), birthday=get("birthday"), nickname=get("nickname"),
            phone_hash=get("phone_hash"), device_id=get("device_id"), channel=get("channel"), inviter=get("inviter"),
            qualified_at=get("qualified_at"), counted=frozenset(counted) if counted else frozenset(),
            rewarded=frozenset(rewarded) if rewarded else frozenset(), variant=get("variant"),
            depth=_int(get("depth")), inviter_joined_at=get("inviter_joined_at"), ip_hash=get("ip_hash"),
            risk_score=_int(get("risk_score")), risk_reasons=_json_list(get("risk_reasons")), review=get("review"),
            erasing_at=get("erasing_at"), erased_at=get("erased_at"), identity=get("identity"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class RewardImage(Image):
    entity: ClassVar[str] = "reward"
    tid: str
    code: str  # the participant's code
    rule: str
    name: str
    status: str
    created_at: str
    value_fen: int = 0
    cost_fen: int | None = None
    issued_at: str | None = None
    revoked_at: str | None = None
    type: str | None = None  # coupon, points, cash, gift, custom
    points: int = 0
    channel: str | None = None  # the rewarded participant's acquisition channel

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        get = raw.get
        return cls(
            cid=raw["cid"], tid=raw["tid"], code=raw["code"], rule=raw["rule"], name=raw["name"],
            status=raw["status"], created_at=raw["created_at"], value_fen=int(get("value_fen", 0)),
            cost_fen=_int(get("cost_fen")), issued_at=get("issued_at"), revoked_at=get("revoked_at"),
            type=get("type"), points=int(get("points", 0)), channel=get("channel"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CouponCodeImage(Image):
    entity: ClassVar[str] = "coupon_code"
    rule: str
    GSI2PK: str | None = None  # set while the code is free

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(cid=raw["cid"], rule=raw["rule"], GSI2PK=raw.get("GSI2PK"))


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupImage(Image):
    entity: ClassVar[str] = "group"
    gid: str
    tid: str
    size: int
    members: int  # system members included
    status: str
    system_members: int = 0  # places auto-fill completed at the deadline

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(
            cid=raw["cid"], gid=raw["gid"], tid=raw["tid"], size=int(raw["size"]), members=int(raw["members"]),
            status=raw["status"], system_members=int(raw.get("system_members") or 0),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class GroupMemberImage(Image):
    entity: ClassVar[str] = "group_member"
    gid: str
    code: str
    joined_at: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(cid=raw["cid"], gid=raw["gid"], code=raw["code"], joined_at=raw["joined_at"])


@dataclass(frozen=True, slots=True, kw_only=True)
class AssistImage(Image):
    entity: ClassVar[str] = "assist"
    tid: str
    owner: str  # the owner's invite code
    helpers_required: int
    slots: int = 0
    helped: Mapping[str, int] = field(default=_NO_HELPERS)  # helper code -> the slot they took
    floor_price: int | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        get = raw.get
        helped = get("helped")
        return cls(
            cid=raw["cid"], tid=raw["tid"], owner=raw["owner"], helpers_required=int(raw["helpers_required"]),
            slots=int(get("slots", 0)), helped={k: int(v) for k, v in helped.items()} if helped else _NO_HELPERS,
            floor_price=_int(get("floor_price")),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderImage(Image):
    """An order (modes/distribution/store.py), with the buyer's analytics facts when known."""

    entity: ClassVar[str] = "order"
    tid: str
    oid: str
    status: str  # paid | refunded
    amount: int
    paid_at: str
    refunded_at: str | None = None
    buyer: str | None = None
    channel: str | None = None
    variant: str | None = None
    invited: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        get = raw.get
        return cls(
            cid=raw["cid"], tid=raw["tid"], oid=raw["oid"], status=raw["status"], amount=int(raw["amount"]),
            paid_at=raw["paid_at"], refunded_at=get("refunded_at"), buyer=get("buyer"), channel=get("channel"),
            variant=get("variant"), invited=bool(get("invited")),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionImage(Image):
    """One commission ledger entry under its order (modes/distribution/store.py); negative when clawed back."""

    entity: ClassVar[str] = "commission"
    amount_fen: int
    created_at: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(cid=raw["cid"], amount_fen=int(raw["amount_fen"]), created_at=raw["created_at"])


@dataclass(frozen=True, slots=True, kw_only=True)
class CommissionMirrorImage(Image):
    """A commission ledger entry mirrored under its earner (modes/distribution/store.py): what credits the
    earner's wallet (payouts/wallets.py). A clawback is negative and its sort key ends in `#CLAWBACK`."""

    entity: ClassVar[str] = "commission_mirror"
    tid: str
    oid: str
    code: str  # the earner's participant code
    level: int
    amount_fen: int
    available_at: str
    created_at: str
    clawback: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(
            cid=raw["cid"], tid=raw["tid"], oid=raw["oid"], code=raw["code"], level=int(raw["level"]),
            amount_fen=int(raw["amount_fen"]), available_at=raw["available_at"], created_at=raw["created_at"],
            clawback=str(raw["SK"]).endswith("#CLAWBACK"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class BeaconImage(Image):
    """A landing page's beacon (analytics/store/counters.py)."""

    entity: ClassVar[str] = "beacon"
    type: str  # view | share | click | custom
    at: str
    channel: str | None = None
    code: str | None = None
    key: str = ""  # the beacon's own key (`EV#{id}`): one per beacon, what tasks count views by

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        get = raw.get
        return cls(
            cid=raw["cid"], type=raw["type"], at=raw["at"], channel=get("channel"), code=get("code"),
            key=str(get("PK") or ""),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class ClickImage(Image):
    entity: ClassVar[str] = "click"
    at: str
    channel: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(cid=raw["cid"], at=raw["at"], channel=raw.get("channel"))


@dataclass(frozen=True, slots=True, kw_only=True)
class PlatformEventImage(Image):
    """An inbound WeChat / WeCom callback event (platforms/store/events.py). It belongs to a tenant, not yet to a
    campaign: `cid` is empty; the state or scene it carries names the campaign's participant."""

    entity: ClassVar[str] = "platform_event"
    tid: str
    platform: str
    kind: str
    user: str
    sent_at: int
    received_at: str
    event_key: str
    staff: str | None = None
    scene: str | None = None
    welcome_code: str | None = None
    template_id: str | None = None
    consent: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        get = raw.get
        return cls(
            cid="", tid=raw["tid"], platform=raw["platform"], kind=raw["kind"], user=raw["user"],
            sent_at=int(raw["sent_at"]), received_at=raw["received_at"], event_key=str(raw["SK"]).rsplit("#", 1)[-1],
            staff=get("staff"), scene=get("scene"), welcome_code=get("welcome_code"), template_id=get("template_id"),
            consent=get("consent"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class PointsEntryImage(Image):
    """An entry of a person's points ledger (loyalty/store/ledger.py). It belongs to a tenant; `cid` is the
    campaign involved, empty when none is."""

    entity: ClassVar[str] = "points_entry"
    tid: str
    uid: str  # the ledger's owner
    source: str
    kind: str
    points: int
    created_at: str

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        return cls(
            cid=raw.get("cid") or "", tid=raw["tid"], uid=raw["uid"], source=raw["source"], kind=raw["kind"],
            points=int(raw["points"]), created_at=raw["created_at"],
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class TierImage(Image):
    """A person's membership tier (loyalty/store/tiers.py, `T#{tid}#TIER#{uid}` / `STATE`). It belongs to a
    tenant, not a campaign: `cid` is empty. `tier` is None while no tier is held; `rank` is its place in the
    tenant's ladder (1 the lowest, 0 none); `changed_at` is when `tier` last changed."""

    entity: ClassVar[str] = "tier"
    tid: str
    uid: str  # the person (a profile's uid), or `c_{code}` for a participant who joined before profiles
    tier: str | None = None
    name: str | None = None
    rank: int = 0
    previous: str | None = None
    changed_at: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        get = raw.get
        return cls(
            cid="", tid=raw["tid"], uid=raw["uid"], tier=get("tier"), name=get("tier_name"),
            rank=int(get("rank") or 0), previous=get("previous"), changed_at=get("changed_at"),
        )  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckinImage(Image):
    """A person's check-in of one local day (loyalty/store/checkins.py): `T#{tid}#CHK#{uid}` / `D#{date}`, written
    once. `uid` is the person (the points ledger's owner), `cid` and `code` the campaign and participant it was sent
    through, `date` the tenant-local day; a make-up (`made_up`) covers a missed day and gives no reward. `streak` is
    the streak day it made when written (0 for a make-up)."""

    entity: ClassVar[str] = "checkin"
    tid: str
    uid: str
    code: str
    date: str  # YYYY-MM-DD, in the tenant's time zone
    made_up: bool
    streak: int
    points: int
    created_at: str
    coupon_name: str | None = None
    coupon_value_fen: int = 0

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Self:
        get = raw.get
        return cls(
            cid=raw["cid"], tid=raw["tid"], uid=raw["uid"], code=raw["code"], date=raw["date"],
            made_up=bool(raw["made_up"]), streak=int(raw["streak"]), points=int(raw["points"]),
            created_at=raw["created_at"], coupon_name=get("coupon_name"),
            coupon_value_fen=_int(get("coupon_value_fen")) or 0,
        )  # fmt: skip


IMAGE_TYPES: dict[str, type[Image]] = {
    kind.entity: kind
    for kind in (
        CampaignImage, ParticipantImage, RewardImage, CouponCodeImage, GroupImage, GroupMemberImage, AssistImage,
        OrderImage, CommissionImage, CommissionMirrorImage, BeaconImage, ClickImage, PlatformEventImage,
        PointsEntryImage, TierImage, CheckinImage,
    )
}  # fmt: skip


def read(entity: str, raw: Mapping[str, Any]) -> Image | None:
    """The record of an entity's image; None when there is no image or the entity has no record type."""
    kind = IMAGE_TYPES.get(entity)
    if kind is None or not raw:
        return None
    try:
        return kind.parse(raw)
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise UnreadableImage(f"a {entity} image that is not a {kind.__name__}: {exc!r}") from exc
