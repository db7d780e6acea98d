"""Campaigns: the mode-specific rule schemas and the lifecycle state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from chalicelib.campaigns.rules.fraud_policy import DEFAULT_POLICY, FraudPolicy
from chalicelib.campaigns.rules.poster_layouts import KNOWN_LAYOUTS
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, Gone, NotFound

_FEN_CEILING = 100_000_000_00  # 100 million yuan
Fen = Annotated[int, Field(ge=0, le=_FEN_CEILING)]  # money in integer fen
PositiveFen = Annotated[int, Field(ge=1, le=_FEN_CEILING)]
MAX_CAMPAIGN_DAYS = 366
MAX_REWARD_DELAY_HOURS = 720  # 30 days: a return window, not a way to never pay


class Strict(BaseModel):
    """Unknown fields are errors, never silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Mode(StrEnum):
    INVITE = "invite"
    GROUP_BUY = "group_buy"
    ASSIST = "assist"
    DISTRIBUTION = "distribution"
    POSTER = "poster"


class Status(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class Action(StrEnum):
    PUBLISH = "publish"
    PAUSE = "pause"
    END = "end"


# --- rewards and mode rules ---------------------------------------------------------------


class Reward(Strict):
    type: Literal["coupon", "points", "cash", "gift", "custom"]
    name: str = Field(min_length=1, max_length=60)
    value_fen: Fen = 0
    points: int = Field(default=0, ge=0, le=10_000_000)
    # Campaign-wide stock of this reward; None means unlimited (bounded by the budget).
    stock: int | None = Field(default=None, ge=0, le=10_000_000)
    # A coupon whose codes come from the pool the operator uploads for this reward: each code goes to
    # one participant; while the pool is empty the reward waits as `pending`.
    code_pool: bool = False

    @model_validator(mode="after")
    def _value_matches_type(self) -> Reward:
        if self.code_pool and self.type != "coupon":
            raise ValueError("only a coupon reward can draw its codes from a code pool")
        if self.type == "points" and self.points <= 0:
            raise ValueError("a points reward needs points > 0")
        if self.type == "cash" and self.value_fen <= 0:
            raise ValueError("a cash reward needs value_fen > 0")
        return self


class Milestone(Strict):
    invites: int = Field(ge=1, le=10_000)
    reward: Reward


class Decay(Strict):
    """After `after_invites` counted invites, each further reward is worth `percent` of the ladder's."""

    after_invites: int = Field(ge=1, le=10_000)
    percent: int = Field(ge=1, le=100)


class LadderRules(Strict):
    qualifying_action: Literal["join", "follow", "first_paid_order"] = "join"
    milestones: list[Milestone] = Field(min_length=1, max_length=10)
    per_participant_cap: int | None = Field(default=None, ge=1, le=10_000)
    decay: Decay | None = None
    invitee_reward: Reward | None = None
    attribution_window_hours: int = Field(default=168, ge=1, le=720)
    # `follow` campaigns fed by the WeCom / official account callbacks (docs/wechat.md): how long an invitee must
    # stay a contact before the invite counts (0: at once), whether only contacts new to the tenant count, and
    # the WeCom welcome message's text (default: a line naming the campaign), and the WeCom tag (in the corp's
    # "Fission" tag group) marked on each contact a participant's channel code brings (none if absent).
    follow_retention_hours: int = Field(default=72, ge=0, le=168)
    follow_new_contacts_only: bool = True
    welcome_text: str | None = Field(default=None, min_length=1, max_length=500)
    wecom_tag: str | None = Field(default=None, min_length=1, max_length=30)

    @field_validator("milestones")
    @classmethod
    def _ladder_ascends(cls, milestones: list[Milestone]) -> list[Milestone]:
        steps = [m.invites for m in milestones]
        if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
            raise ValueError("milestones must be in strictly increasing order of invites")
        return milestones


class InviteRules(LadderRules):
    pass


class PosterRules(LadderRules):
    layout_id: str = Field(default="classic", min_length=1, max_length=40, pattern=r"^[a-z0-9_-]+$")

    @field_validator("layout_id")
    @classmethod
    def _known_layout(cls, value: str) -> str:
        if value not in KNOWN_LAYOUTS:
            raise ValueError(f"unknown poster layout {value!r}; one of {', '.join(KNOWN_LAYOUTS)}")
        return value


AUTO_FILL_MIN_MEMBERS = 2  # the default: a leader and one friend


class PriceTier(Strict):
    size: int = Field(ge=2, le=50)
    price_fen: PositiveFen


class Product(Strict):
    sku: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=80)
    image_url: AnyHttpUrl | None = None


class GroupBuyRules(Strict):
    product: Product
    original_price_fen: PositiveFen
    tiers: list[PriceTier] = Field(min_length=1, max_length=5)
    leader_perk: Reward | None = None
    deadline_hours: int = Field(default=24, ge=1, le=72)
    # Virtual members that complete a group at the deadline: off unless the merchant says so,
    # and then disclosed in the public view.
    auto_fill: bool = False
    # With auto_fill: the real members (leader included) a group needs at its deadline to be completed.
    auto_fill_min_members: int = Field(default=AUTO_FILL_MIN_MEMBERS, ge=1, le=50)
    max_open_groups_per_leader: int = Field(default=1, ge=1, le=10)

    @model_validator(mode="after")
    def _tiers_make_sense(self) -> GroupBuyRules:
        sizes = [t.size for t in self.tiers]
        prices = [t.price_fen for t in self.tiers]
        if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)):
            raise ValueError("tiers must be in strictly increasing order of size")
        if any(b > a for a, b in zip(prices, prices[1:], strict=False)):
            raise ValueError("a bigger group must not cost more than a smaller one")
        if prices[0] >= self.original_price_fen:
            raise ValueError("every tier price must be below original_price_fen")
        if self.auto_fill_min_members > sizes[0]:
            raise ValueError("auto_fill_min_members must not exceed the smallest tier size")
        return self


class AssistRules(Strict):
    goal: Literal["cut_price", "unlock"]
    helpers_required: int = Field(ge=1, le=200)
    time_limit_hours: int = Field(default=24, ge=1, le=168)
    helper_daily_limit: int = Field(default=3, ge=1, le=50)
    # cut_price: cuts take original_price_fen down to floor_price_fen.
    product: Product | None = None
    original_price_fen: Fen | None = None
    floor_price_fen: Fen | None = None
    min_cut_fen: int | None = Field(default=None, ge=1)
    max_cut_fen: int | None = Field(default=None, ge=1)
    # unlock: the prize the participant gets once enough friends help.
    prize: Reward | None = None

    @model_validator(mode="after")
    def _goal_is_reachable(self) -> AssistRules:
        if self.goal == "unlock":
            if self.prize is None:
                raise ValueError("an unlock assist needs a prize")
            return self
        needed = ("product", "original_price_fen", "floor_price_fen", "min_cut_fen", "max_cut_fen")
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(f"a cut_price assist needs {', '.join(missing)}")
        assert self.original_price_fen is not None and self.floor_price_fen is not None
        assert self.min_cut_fen is not None and self.max_cut_fen is not None
        target = self.original_price_fen - self.floor_price_fen
        if target <= 0:
            raise ValueError("floor_price_fen must be below original_price_fen")
        if self.min_cut_fen > self.max_cut_fen:
            raise ValueError("min_cut_fen must not exceed max_cut_fen")
        n = self.helpers_required
        if not n * self.min_cut_fen <= target <= n * self.max_cut_fen:
            raise ValueError(
                f"{n} helpers cutting {self.min_cut_fen}..{self.max_cut_fen} fen each cannot reach exactly "
                f"{target} fen; adjust the bounds or the number of helpers"
            )
        return self


class DistributionRules(Strict):
    # Two levels is the legal ceiling for distribution in China; deeper is rejected here.
    levels: Literal[1, 2] = 1
    rates_bp: list[Annotated[int, Field(ge=1, le=5000)]] = Field(min_length=1, max_length=2)
    binding: Literal["first_click", "last_click"] = "last_click"
    binding_window_days: int = Field(default=30, ge=1, le=365)
    frozen_days: int = Field(default=7, ge=0, le=90)
    min_withdraw_fen: Fen = 100

    @model_validator(mode="after")
    def _one_rate_per_level(self) -> DistributionRules:
        if len(self.rates_bp) != self.levels:
            raise ValueError(f"rates_bp needs exactly {self.levels} rate(s), one per level")
        return self


# --- the campaign document ------------------------------------------------------------------


class ComplianceSettings(Strict):
    """Inputs of the compliance checker: what the product is worth and the reward value cap (docs/compliance.md)."""

    product_value_fen: PositiveFen | None = None
    value_cap_percent: int = Field(default=30, ge=1, le=100)


class ShareCopy(Strict):
    title: str = Field(default="", max_length=60)
    text: str = Field(default="", max_length=300)
    image_url: AnyHttpUrl | None = None


class Variant(Strict):
    """One arm of an experiment: its share of joins and what it changes (copy, or the reward ladder)."""

    id: str = Field(pattern=r"^[a-z0-9_]{1,16}$")
    weight: int = Field(ge=1, le=100)
    share: ShareCopy | None = None
    milestones: list[Milestone] | None = Field(default=None, min_length=1, max_length=10)


class Experiment(Strict):
    """Variants assigned deterministically at join (a hash of campaign and person), weights summing to 100."""

    variants: list[Variant] = Field(min_length=2, max_length=4)

    @model_validator(mode="after")
    def _split(self) -> Experiment:
        ids = [v.id for v in self.variants]
        if len(set(ids)) != len(ids):
            raise ValueError("variant ids must be unique")
        if sum(v.weight for v in self.variants) != 100:
            raise ValueError("variant weights must add up to 100")
        for variant in self.variants:
            steps = [m.invites for m in variant.milestones or []]
            if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
                raise ValueError(f"variant {variant.id}: milestones must be in strictly increasing order of invites")
        return self


class IdentityMode(StrEnum):
    """Who a participant is (docs/identity.md)."""

    SIGNED = "signed"  # the merchant's server signs an assertion for its logged-in user
    PLATFORM = "platform"  # a platform login Fission performs itself (WeChat, ...)
    ANONYMOUS = "anonymous"  # Fission mints an identity; the participant token is the only way back


# Platform logins Fission can perform; a campaign may name only these: the official account's web login and the
# mini program's login (docs/wechat.md).
PLATFORM_LOGINS: frozenset[str] = frozenset({"wechat", "miniprogram"})


class IdentitySettings(Strict):
    # Stored documents from before identity modes read as anonymous: they never hand an existing
    # participant to a caller who cannot prove it is them. New campaigns default to `signed`
    # (`NEW_CAMPAIGN_IDENTITY`).
    mode: IdentityMode = IdentityMode.ANONYMOUS
    platform: str | None = Field(default=None, min_length=1, max_length=32, description="platform mode: which login")

    @model_validator(mode="after")
    def _platform(self) -> IdentitySettings:
        if self.mode is IdentityMode.PLATFORM:
            if self.platform is None:
                raise ValueError("platform identity needs `platform`, the login to use")
            if self.platform not in PLATFORM_LOGINS:
                known = ", ".join(sorted(PLATFORM_LOGINS)) or "none yet"
                raise ValueError(f"no platform login {self.platform!r} is available (available: {known})")
        elif self.platform is not None:
            raise ValueError("`platform` belongs to platform identity")
        return self


NEW_CAMPAIGN_IDENTITY: dict[str, str] = {"mode": IdentityMode.SIGNED.value}


QrTarget = Literal["link", "wecom_contact", "wechat_oa", "miniprogram"]


class CampaignBase(Strict):
    title: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=2000)
    starts_at: datetime
    ends_at: datetime
    timezone: str = "Asia/Shanghai"
    landing_url: AnyHttpUrl | None = None
    share: ShareCopy = Field(default_factory=ShareCopy)
    rule_text: str = Field(default="", max_length=5000)
    budget_fen: Fen | None = None
    # The merchant's veto before a reward is issued (docs/rewards-veto.md): a hold, a signed validation callback
    # (setting it is the owner's, with a step-up: it sends participant ids out), and operator approval above a value.
    reward_delay_hours: int = Field(
        default=0,
        ge=0,
        le=MAX_REWARD_DELAY_HOURS,
        description="Hours a reward earned stays `pending_release` before it is issued (0: at once).",
    )
    validation_url: str | None = Field(
        default=None,
        min_length=8,
        max_length=2048,
        description="The merchant's URL asked, signed, before each reward is issued (owner only, with a step-up).",
    )
    validation_default: Literal["issue", "void"] = Field(
        default="issue", description="What happens to a reward when the validation URL never answers."
    )
    approval_above_fen: Fen | None = Field(
        default=None, description="A reward worth more than this waits for an operator's approval in the review queue."
    )
    template_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="The library template the campaign was created from."
    )
    experiment: Experiment | None = None
    # Absent: the default policy (docs/fraud.md); stored documents stay as they were written.
    fraud: FraudPolicy | None = None
    compliance: ComplianceSettings | None = None
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    qr_target: QrTarget = Field(
        default="link",
        description="What the poster's QR code opens: the invite link, the participant's WeCom channel code, "
        "official account QR code or mini-program code (docs/wechat.md).",
    )
    qr_page: str | None = Field(
        default=None,
        max_length=128,
        pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$",
        description="The mini-program page a `miniprogram` code opens (no leading slash); its home page if absent.",
    )
    min_tier: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9_]{1,32}$",
        description="A tier-only campaign: only people holding this membership tier (its id) or a higher one may "
        "join (docs/retention.md).",
    )

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("times must carry a UTC offset, e.g. 2026-12-01T00:00:00Z")
        # Stored in UTC at second precision, so stored times sort and compare as strings.
        return value.astimezone(UTC).replace(microsecond=0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _window(self) -> CampaignBase:
        if self.experiment is not None and not isinstance(getattr(self, "rules", None), LadderRules):
            if any(v.milestones for v in self.experiment.variants):
                raise ValueError("only invite and poster campaigns have a reward ladder a variant can change")
        if self.qr_page is not None and self.qr_target != "miniprogram":
            raise ValueError("qr_page belongs to qr_target miniprogram")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        if self.ends_at - self.starts_at > timedelta(days=MAX_CAMPAIGN_DAYS):
            raise ValueError(f"a campaign runs at most {MAX_CAMPAIGN_DAYS} days")
        return self


class InviteCampaign(CampaignBase):
    mode: Literal["invite"]
    rules: InviteRules


class GroupBuyCampaign(CampaignBase):
    mode: Literal["group_buy"]
    rules: GroupBuyRules


class AssistCampaign(CampaignBase):
    mode: Literal["assist"]
    rules: AssistRules


class DistributionCampaign(CampaignBase):
    mode: Literal["distribution"]
    rules: DistributionRules


class PosterCampaign(CampaignBase):
    mode: Literal["poster"]
    rules: PosterRules


CampaignSpec = Annotated[
    InviteCampaign | GroupBuyCampaign | AssistCampaign | DistributionCampaign | PosterCampaign,
    Field(discriminator="mode"),
]
# The rules of any mode; the campaign's model says which (narrow with isinstance on the campaign or the rules).
CampaignRules = InviteRules | GroupBuyRules | AssistRules | DistributionRules | PosterRules
SPEC_ADAPTER: TypeAdapter[CampaignSpec] = TypeAdapter(CampaignSpec)


def parse_spec(document: dict[str, Any]) -> CampaignSpec:
    """Validate a whole campaign document (raises pydantic.ValidationError).

    Also how a stored document is read back: fields it was written without take their defaults
    (no `fraud`: the default policy), and whole numbers given as Decimal or float read as int."""
    return SPEC_ADAPTER.validate_python(document)


def spec_to_document(spec: CampaignBase) -> dict[str, Any]:
    """The JSON-shaped document stored and returned (times as ISO strings, no nulls)."""
    return spec.model_dump(mode="json", exclude_none=True)


def shown(part: BaseModel) -> dict[str, Any]:
    """A part of a stored document (its share copy, its rules, a reward), JSON-shaped as it was written.

    The part was parsed from the stored document, so only the fields the document carries are shown:
    a field added to the schema after the document was written stays absent, as it is in the document."""
    return part.model_dump(mode="json", exclude_unset=True, exclude_none=True)


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386 JSON merge patch: objects merge, `null` deletes, anything else replaces."""
    result = dict(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict):
            current = result.get(key)
            result[key] = merge_patch(current if isinstance(current, dict) else {}, value)
        else:
            result[key] = value
    return result


# --- lifecycle ------------------------------------------------------------------------------

TRANSITIONS: dict[Action, dict[Status, Status]] = {
    Action.PUBLISH: {Status.DRAFT: Status.ACTIVE, Status.PAUSED: Status.ACTIVE},
    Action.PAUSE: {Status.ACTIVE: Status.PAUSED},
    Action.END: {Status.ACTIVE: Status.ENDED, Status.PAUSED: Status.ENDED},
}
EDITABLE = frozenset({Status.DRAFT, Status.PAUSED})


def next_status(current: Status, action: Action) -> Status:
    try:
        return TRANSITIONS[action][current]
    except KeyError:
        allowed = sorted(a.value for a, moves in TRANSITIONS.items() if current in moves)
        raise Conflict(
            f"cannot {action.value} a campaign that is {current.value}",
            code=Code.ILLEGAL_TRANSITION,
            details={"status": current.value, "action": action.value, "allowed": allowed},
        ) from None


def ensure_publishable(ends_at: datetime, now: datetime) -> None:
    if ends_at <= now:
        raise Conflict(
            "the campaign's end time has passed; move ends_at before publishing",
            code=Code.CAMPAIGN_WINDOW_PASSED,
            details={"ends_at": ends_at.isoformat()},
        )


def ensure_editable(status: Status) -> None:
    if status not in EDITABLE:
        raise Conflict(
            f"the campaign is {status.value}; only draft or paused campaigns can be edited",
            code=Code.CAMPAIGN_NOT_EDITABLE,
            details={"status": status.value},
        )


def ensure_deletable(status: Status) -> None:
    if status is not Status.DRAFT:
        raise Conflict(
            "only a draft campaign can be deleted; end it instead",
            code=Code.CAMPAIGN_NOT_DELETABLE,
            details={"status": status.value},
        )


Phase = Literal["draft", "upcoming", "live", "paused", "ended"]


def phase(status: Status, starts_at: datetime, ends_at: datetime, now: datetime) -> Phase:
    """What a participant sees: the status combined with the time window."""
    if status is Status.DRAFT:
        return "draft"
    if status is Status.ENDED or now >= ends_at:
        return "ended"
    if status is Status.PAUSED:
        return "paused"
    if now < starts_at:
        return "upcoming"
    return "live"


def ensure_open(status: Status, starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """Participation guard for joins and every other participant action."""
    current = phase(status, starts_at, ends_at, now)
    if current == "draft":
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    if current == "upcoming":
        raise Conflict(
            "the campaign has not started yet",
            code=Code.CAMPAIGN_NOT_STARTED,
            details={"starts_at": starts_at.isoformat()},
        )
    if current == "paused":
        raise Conflict("the campaign is paused", code=Code.CAMPAIGN_PAUSED)
    if current == "ended":
        raise Gone("the campaign has ended", code=Code.CAMPAIGN_ENDED, details={"ends_at": ends_at.isoformat()})


def policy_of(spec: CampaignBase) -> FraudPolicy:
    """The campaign's policy (campaigns stored before the field get the default)."""
    return spec.fraud if spec.fraud is not None else DEFAULT_POLICY
