"""Participants: invite codes, who invited whom, and progress along a milestone ladder."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from chalicelib.campaigns.rules.spec import CampaignRules, CampaignSpec, Experiment, LadderRules, shown
from chalicelib.platforms.rules.scenes import code_from_scene

CODE_LENGTH = 8
CODE_PATTERN = r"^[0-9a-hjkmnp-tv-z]{8}$"
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32: no i, l, o, u to misread
MAX_CODE_ATTEMPTS = 4
MAX_CLICKS = 10
DEFAULT_ATTRIBUTION_WINDOW_HOURS = 168
CLICK_SKEW_SECONDS = 120  # containers' clocks differ a little; a click further ahead is not ours


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Signed and platform campaigns take the id from `assertion` (a matching external_id may repeat it);
    # anonymous campaigns mint one and accept neither (docs/identity.md).
    external_id: str | None = Field(default=None, min_length=1, max_length=128)
    assertion: str | None = Field(default=None, min_length=1, max_length=4096)
    nickname: str | None = Field(default=None, min_length=1, max_length=32)
    avatar_url: AnyHttpUrl | None = Field(default=None)
    phone: str | None = Field(default=None, max_length=24)
    channel: str | None = Field(default=None, max_length=32, pattern=r"^[a-z0-9_]+$")
    ref: str | None = Field(default=None, max_length=16)
    device_id: str | None = Field(default=None, min_length=1, max_length=64)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    birthday: str | None = Field(
        default=None, pattern=r"^(\d{4}-)?\d{2}-\d{2}$", description="YYYY-MM-DD or MM-DD (birthday messages)"
    )
    clicks: list[Annotated[str, Field(min_length=1, max_length=64)]] | None = Field(
        default=None,
        max_length=MAX_CLICKS,
        description="The `click` tokens of the short-link redirects that brought the visitor, in the order received.",
    )

    scene: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="The `scene` a mini program was opened with from a participant's mini program code "
        "(`fis_<invite code>`): taken as `ref`.",
    )

    @field_validator("birthday")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        return None if value is None else month_day(value)

    @model_validator(mode="after")
    def _ref_from_scene(self) -> JoinRequest:
        if self.scene is not None:
            code = code_from_scene(self.scene)
            if code is None:
                raise ValueError("scene names no participant: it is fis_ and an invite code")
            if self.ref is not None and self.ref != code:
                raise ValueError("ref and scene name different participants")
            self.ref = code
        return self


class ServerJoinRequest(JoinRequest):
    """The join a merchant's server sends with an API key: the user's id, no assertion (the key vouches)."""

    external_id: str = Field(min_length=1, max_length=128, description="The merchant's id of its logged-in user.")
    assertion: SkipJsonSchema[str | None] = Field(default=None, exclude=True)

    @field_validator("assertion")
    @classmethod
    def _no_assertion(cls, value: str | None) -> None:
        if value is not None:
            raise ValueError("a server join takes no assertion: the API key vouches for the user")


def invite_code(secret: bytes, cid: str, external_id: str, attempt: int = 0) -> str:
    """The participant's code, derived from who they are: a repeated join finds the same one.

    40 bits; two people colliding in one table is rare but possible at scale, so a join that
    finds its code taken by someone else tries the next `attempt`.
    """
    digest = hmac.new(secret, f"{cid}\x00{external_id}\x00{attempt}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:5], "big")
    return "".join(_ALPHABET[(number >> (5 * i)) & 31] for i in reversed(range(CODE_LENGTH)))


def identity_hash(secret: bytes, cid: str, external_id: str) -> str:
    """Who a participant is, without storing the merchant's user id in the clear."""
    return hmac.new(secret, f"identity\x00{cid}\x00{external_id}".encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Inviter:
    """The facts about a would-be inviter that attribution needs."""

    code: str
    cid: str
    identity: str
    device_id: str | None
    phone_hash: str | None
    # What an invitee records from its inviter for analytics: the generation and the inviter's join.
    depth: int = 0
    joined_at: str | None = None


Refusal = Literal["unknown_code", "other_campaign", "self_invite", "click_expired", "invalid_click"]


def attribute(
    inviter: Inviter | None, *, cid: str, identity: str, device_id: str | None, phone_hash: str | None
) -> tuple[str | None, Refusal | None]:
    """The inviter credited for a join, or why nobody is: a join never fails over a bad ref."""
    if inviter is None:
        return None, "unknown_code"
    if inviter.cid != cid:
        return None, "other_campaign"
    same_person = (
        inviter.identity == identity
        or (device_id is not None and inviter.device_id == device_id)
        or (phone_hash is not None and inviter.phone_hash == phone_hash)
    )
    if same_person:
        return None, "self_invite"
    return inviter.code, None


@dataclass(frozen=True)
class Touch:
    """A moment an invitee met an inviter's code: a signed click, or the join's own `ref`."""

    code: str
    at: int  # epoch seconds


def attribution_window_seconds(rules: CampaignRules) -> int:
    """The campaign's attribution window; modes without the rule (no ladder) get the ladder's default."""
    hours = rules.attribution_window_hours if isinstance(rules, LadderRules) else DEFAULT_ATTRIBUTION_WINDOW_HOURS
    return hours * 3600


def first_touch(
    clicks: Sequence[Touch | None],
    ref: str | None,
    *,
    now: int,
    window_seconds: int,
    lookup: Callable[[str], Inviter | None],
    cid: str,
    identity: str,
    device_id: str | None,
    phone_hash: str | None,
) -> tuple[str | None, Refusal | None]:
    """The inviter credited for a join: the earliest valid touch within the window wins.

    `clicks` are the verified click tokens the landing page collected (None for one that did
    not verify); a `ref` without a click is a touch at join time, so any valid click beats it.
    Touches are tried oldest first and the first valid one stops the search, so `lookup`
    (a read) runs only for codes that could still win, and at most once per code. When nobody
    is credited, the reason is the latest touch's: the ref's whenever there is one.
    """
    touches = sorted((c for c in clicks if c is not None), key=lambda c: c.at)
    if ref is not None:
        touches.append(Touch(ref, now))
    seen: dict[str, tuple[str | None, Refusal | None]] = {}
    reason: Refusal | None = "invalid_click" if clicks else None
    for touch in touches:
        if touch.at > now + CLICK_SKEW_SECONDS:
            reason = "invalid_click"
            continue
        if now - touch.at > window_seconds:
            reason = "click_expired"
            continue
        if touch.code not in seen:
            found = lookup(touch.code) if re.fullmatch(CODE_PATTERN, touch.code) else None
            seen[touch.code] = attribute(found, cid=cid, identity=identity, device_id=device_id, phone_hash=phone_hash)
        inviter, reason = seen[touch.code]
        if inviter is not None:
            return inviter, None
    return None, reason


def qualifies_on_join(rules: CampaignRules) -> bool:
    """Whether joining alone makes an invitee count for the inviter (the `join` qualifying action;
    modes without a ladder have no other)."""
    return not isinstance(rules, LadderRules) or rules.qualifying_action == "join"


def ladder_progress(rules: LadderRules, counted: int) -> dict[str, Any]:
    """Where a participant stands on the campaign's milestone ladder."""
    milestones = rules.milestones
    cap = rules.per_participant_cap
    effective = min(counted, cap) if cap else counted
    reached = [m for m in milestones if effective >= m.invites]
    upcoming = next((m for m in milestones if effective < m.invites), None)
    return {
        "counted_invites": effective,
        "milestones_reached": len(reached),
        "next_milestone": (
            {
                "invites": upcoming.invites,
                "remaining": upcoming.invites - effective,
                "reward": shown(upcoming.reward),
            }
            if upcoming
            else None
        ),
    }


def assign_variant(secret: bytes, cid: str, identity: str, experiment: Experiment | None) -> str | None:
    """The experiment arm of a person: a keyed hash into 100 buckets, cut by the variants' weights, so a
    repeat join (or a second device of the same person) lands in the same arm."""
    if experiment is None:
        return None
    digest = hmac.new(secret, f"variant\x00{cid}\x00{identity}".encode(), hashlib.sha256).digest()
    bucket = int.from_bytes(digest[:8], "big") % 100
    edge = 0
    variants = experiment.variants
    for variant in variants:
        edge += variant.weight
        if bucket < edge:
            return variant.id
    return variants[-1].id


def rules_for(spec: CampaignSpec, variant: str | None) -> LadderRules | None:
    """The campaign's ladder as a participant in `variant` sees it (an arm may bring its own milestones);
    None in modes without a ladder."""
    rules = spec.rules
    if not isinstance(rules, LadderRules):
        return None
    for arm in spec.experiment.variants if spec.experiment else []:
        if arm.id == variant and arm.milestones:
            return rules.model_copy(update={"milestones": arm.milestones})
    return rules


# ---- the person behind a participant (one per tenant, across campaigns) --------------------

BIRTHDAY_PATTERN = r"^(?:\d{4}-)?(\d{2})-(\d{2})$"


def person_id(secret: bytes, tid: str, external_id: str) -> str:
    """One person per tenant: the merchant's user id, keyed-hashed, so campaigns meet on it."""
    digest = hmac.new(secret, f"person\x00{tid}\x00{external_id}".encode(), hashlib.sha256).hexdigest()
    return f"u_{digest[:24]}"


def contact_context(tid: str, uid: str) -> str:
    """What a profile's contact ciphertext is bound to: it decrypts only as this person's."""
    return f"profile:{tid}:{uid}:contact"


def month_day(birthday: str) -> str:
    """`YYYY-MM-DD` or `MM-DD` -> `MM-DD`, refusing dates that do not exist (Feb 29 is allowed)."""
    match = re.fullmatch(BIRTHDAY_PATTERN, birthday)
    if not match:
        raise ValueError("a birthday is YYYY-MM-DD or MM-DD")
    month, day = int(match.group(1)), int(match.group(2))
    try:
        date(2000, month, day)  # a leap year: 02-29 exists
    except ValueError:
        raise ValueError("no such date") from None
    return f"{month:02d}-{day:02d}"
