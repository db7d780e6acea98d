"""Participants: invite codes, who invited whom, and progress along a milestone ladder."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

CODE_LENGTH = 8
CODE_PATTERN = r"^[0-9a-hjkmnp-tv-z]{8}$"
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32: no i, l, o, u to misread
MAX_CODE_ATTEMPTS = 4


class JoinRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str = Field(min_length=1, max_length=128)
    nickname: str | None = Field(default=None, min_length=1, max_length=32)
    avatar_url: AnyHttpUrl | None = Field(default=None)
    phone: str | None = Field(default=None, max_length=24)
    channel: str | None = Field(default=None, max_length=32, pattern=r"^[a-z0-9_]+$")
    ref: str | None = Field(default=None, max_length=16)
    device_id: str | None = Field(default=None, min_length=1, max_length=64)


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


Refusal = Literal["unknown_code", "other_campaign", "self_invite"]


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


def qualifies_on_join(rules: dict[str, Any]) -> bool:
    """Whether joining alone makes an invitee count for the inviter (the `join` qualifying action)."""
    return str(rules.get("qualifying_action", "join")) == "join"


def ladder_progress(rules: dict[str, Any], counted: int) -> dict[str, Any]:
    """Where a participant stands on the campaign's milestone ladder."""
    milestones = list(rules.get("milestones") or [])
    cap = rules.get("per_participant_cap")
    effective = min(counted, int(cap)) if cap else counted
    reached = [m for m in milestones if effective >= int(m["invites"])]
    upcoming = next((m for m in milestones if effective < int(m["invites"])), None)
    return {
        "counted_invites": effective,
        "milestones_reached": len(reached),
        "next_milestone": (
            {
                "invites": upcoming["invites"],
                "remaining": int(upcoming["invites"]) - effective,
                "reward": upcoming["reward"],
            }
            if upcoming
            else None
        ),
    }
