"""Joining a campaign, and a participant's own view of their progress."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.campaigns import live
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import IdentityMode, shown
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, Forbidden, NotFound, Unavailable, ValidationFailed
from chalicelib.referral import fraud, links, rewards
from chalicelib.referral import identity as identity_service
from chalicelib.referral.rules import participants as domain
from chalicelib.referral.rules.leaderboard import rank_of
from chalicelib.referral.rules.participants import JoinRequest
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.referral.store import follows as follow_store
from chalicelib.referral.store import leaderboard as leaderboard_store
from chalicelib.referral.store import participants as store
from chalicelib.referral.store import tiers as tier_store
from chalicelib.security import click_tokens
from chalicelib.security.pii import get_cipher, normalize_phone

LADDER_MODES = frozenset({"invite", "poster"})


def _progress(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    rules = domain.rules_for(rec.spec, participant.variant)
    if rules is None:  # no ladder in this mode
        return {}
    progress = domain.ladder_progress(rules, len(participant.counted))
    if rules.qualifying_action == "follow":
        # Invitees who followed and must stay a while before they count (docs/wechat.md): when each counts.
        waiting = sorted(p.due for p in follow_store.pending_for(participant.code))
        progress["pending_follows"] = [{"counts_at": due} for due in waiting]
    # Invitees held for review: "pending review", never why.
    return {**progress, "pending_review_invites": len(participant.held)}


def _share(rec: CampaignRecord, variant: str | None) -> dict[str, Any]:
    """The share copy this participant's landing page uses: the campaign's, or their experiment arm's."""
    share = shown(rec.spec.share)
    for arm in rec.spec.experiment.variants if rec.spec.experiment else []:
        if arm.id == variant and arm.share is not None:
            share.update(shown(arm.share))
    return share


def _view(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    return {
        "participant_id": participant.code,
        "invite_code": participant.code,
        "invite_url": links.public_url(f"/v1/i/{participant.code}"),
        "poster_url": links.public_url(f"/v1/posters/{rec.cid}/{participant.code}.jpg"),
        "invited_by": participant.inviter,
        "joined_at": participant.joined_at,
        "variant": participant.variant,
        "share": _share(rec, participant.variant),
        "progress": _progress(rec, participant),
        **({"review": "pending"} if participant.review == "held" else {}),
    }


def _joined(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    """The view a join answers with: the participant plus their token."""
    return {**_view(rec, participant), "token": identity_service.issue_token(rec, participant)}


def _inviter(ref: str | None, records: dict[str, ParticipantRecord] | None = None) -> domain.Inviter | None:
    if not ref or not re.fullmatch(domain.CODE_PATTERN, ref):
        return None
    found = store.get_inviter(ref)
    if found is None or found.erased:  # an erased participant's link credits nobody
        return None
    if records is not None:
        records[found.code] = found  # the fraud checks compare the joiner with the inviter
    return domain.Inviter(
        found.code, found.cid, found.identity, found.device_id, found.phone_hash, found.depth or 0, found.joined_at
    )


def _touches(tokens: list[str] | None) -> list[domain.Touch | None]:
    """The landing page's click tokens, verified: None marks one we did not sign."""
    clicks = [click_tokens.verify(token) for token in tokens or []]
    return [domain.Touch(c.code, c.at) if c is not None else None for c in clicks]


def join(
    cid: str, request: JoinRequest, now: datetime, ip: str | None = None, authorization: str | None = None
) -> tuple[dict[str, Any], bool]:
    """Join once, as the identity the campaign's mode proves; a repeat returns the same participant
    only to a caller who proves it is them. One conditional write on the hot path.

    `ip` is the request's source address, when known: stored only as a keyed hash, it feeds the
    fraud signals (docs/fraud.md). Returns the participant view and whether this call created it.
    """
    rec = live.open_campaign(cid, now)
    proven = identity_service.prove_join(rec, request, authorization, now)
    if proven.returning is not None:
        return _joined(rec, proven.returning), False
    return _join(rec, proven, request, now, ip)


def join_as(
    cid: str, external_id: str, request: JoinRequest, now: datetime, ip: str | None = None, *, tid: str
) -> tuple[dict[str, Any], bool]:
    """Join as the user the merchant's server vouches for (an API key of tenant `tid` allowed to register
    participants). Only in the tenant's own `signed` campaigns: there the merchant's server is who says
    who a user is; an anonymous or platform campaign's identities are not the merchant's to name."""
    rec = live.campaign(cid)
    if rec.tid != tid:  # answered like a missing campaign: a key learns nothing of other tenants
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    mode = rec.spec.identity.mode
    if mode is not IdentityMode.SIGNED:
        raise Conflict(
            f"this campaign's identity mode is {mode.value}; a server registers users only in signed campaigns",
            code=Code.WRONG_IDENTITY_MODE,
            details={"identity_mode": mode.value},
        )
    rec = live.open_campaign(cid, now)
    return _join(rec, identity_service.Proven(external_id=external_id), request, now, ip)


def join_platform(
    cid: str, external_id: str, ref: str, channel: str, now: datetime, *, tid: str
) -> tuple[dict[str, Any], bool]:
    """Join as the user a verified platform callback names (WeCom external contact, official account follower),
    invited by `ref`. The identity is trusted because the callback's signature was; the usual fraud screening
    and first-touch attribution apply."""
    rec = live.campaign(cid)
    if rec.tid != tid:
        raise NotFound("no such campaign", code=Code.CAMPAIGN_NOT_FOUND)
    rec = live.open_campaign(cid, now)
    request = JoinRequest(ref=ref, channel=channel)
    return _join(rec, identity_service.Proven(external_id=external_id), request, now, None)


def _join(
    rec: CampaignRecord, proven: identity_service.Proven, request: JoinRequest, now: datetime, ip: str | None
) -> tuple[dict[str, Any], bool]:
    cid, external_id = rec.cid, proven.external_id
    # What the assertion vouches for wins over what the page says.
    nickname = proven.profile.get("nickname") or request.nickname
    avatar_url = proven.profile.get("avatar_url") or (str(request.avatar_url) if request.avatar_url else None)
    phone = proven.profile.get("phone") or request.phone
    email = proven.profile.get("email") or request.email
    secret = identity_service.code_secret()
    identity = domain.identity_hash(secret, cid, external_id)
    phone_enc = phone_hash = digits = None
    if phone:
        try:
            digits = normalize_phone(phone)
        except ValueError:
            raise ValidationFailed(
                "phone: not a phone number",
                details={"errors": [{"field": "phone", "type": "phone", "message": "not a phone number"}]},
            ) from None
        cipher = get_cipher()
        phone_enc = cipher.encrypt(digits, identity_service.phone_context(cid, identity))
        phone_hash = cipher.blind_index(digits, "phone")
    person = domain.person_id(secret, rec.tid, external_id)
    refused = _tier_refusal(rec, person)
    if refused is not None:
        existing = identity_service.find(rec.cid, external_id)
        if existing is not None and not existing.erased:
            return _joined(rec, existing), False  # in before: a tier lost since does not take the place back
        raise refused
    # How messages reach the person (docs/audience.md), readable only as their profile's.
    contact = {"external_id": external_id, "phone": digits, "email": email}
    contact_json = json.dumps({k: v for k, v in contact.items() if v}, sort_keys=True)
    contact_enc = get_cipher().encrypt(contact_json, domain.contact_context(rec.tid, person))
    seen: dict[str, domain.Inviter] = {}
    records: dict[str, ParticipantRecord] = {}

    def lookup(code: str | None) -> domain.Inviter | None:
        found = _inviter(code, records)
        if found is not None:
            seen[found.code] = found
        return found

    inviter, refusal = domain.first_touch(
        _touches(request.clicks),
        request.ref or None,
        now=int(now.timestamp()),
        window_seconds=domain.attribution_window_seconds(rec.spec.rules),
        lookup=lookup,
        cid=cid,
        identity=identity,
        device_id=request.device_id,
        phone_hash=phone_hash,
    )
    ip_hash = fraud.fingerprint("ip", ip)
    risk = fraud.assess_join(
        rec, code=domain.invite_code(secret, cid, external_id), ip_hash=ip_hash, device_id=request.device_id,
        phone_digits=digits, phone_hash=phone_hash, inviter=records.get(inviter) if inviter else None, now=now,
    )  # fmt: skip
    if risk.decision == "block":
        return _refuse(rec, external_id, identity, risk)
    held = risk.decision == "hold"
    qualifies = domain.qualifies_on_join(rec.spec.rules)
    for attempt in range(domain.MAX_CODE_ATTEMPTS):
        participant = ParticipantRecord(
            cid=cid,
            tid=rec.tid,
            code=domain.invite_code(secret, cid, external_id, attempt),
            identity=identity,
            joined_at=iso(now),
            # A held join counts nowhere until approved: the would-be time waits in held_qualified_at.
            qualified_at=iso(now) if qualifies and not held else None,
            held_qualified_at=iso(now) if qualifies and held else None,
            review="held" if held else None,
            risk_score=risk.score,
            risk_reasons=risk.reasons,
            ip_hash=ip_hash,
            lineage=risk.lineage,
            nickname=nickname,
            avatar_url=avatar_url,
            phone_enc=phone_enc,
            phone_hash=phone_hash,
            device_id=request.device_id,
            channel=request.channel,
            inviter=inviter,
            attribution=refusal,
            variant=domain.assign_variant(secret, cid, identity, rec.spec.experiment),
            depth=seen[inviter].depth + 1 if inviter in seen else 0,
            inviter_joined_at=seen[inviter].joined_at if inviter in seen else None,
            person=person,
            contact_enc=contact_enc,
            birthday=request.birthday,
        )
        if store.insert(participant):
            return _joined(rec, participant), True
        existing = store.get(participant.code, consistent=True)
        if existing is not None and existing.identity == identity:
            if existing.erased:
                # The tombstone keeps the keyed identity hash so the erased person is recognised: their
                # old data is never brought back, and one-per-person rewards are not earned twice.
                raise Conflict("this user erased their data in this campaign", code=Code.PARTICIPANT_ERASED)
            # The first join wins: its inviter stays, whatever ref a repeat carries.
            return _joined(rec, existing), False
    raise Unavailable("no free invite code for this participant; retry", code=Code.CODE_UNAVAILABLE)


def _tier_refusal(rec: CampaignRecord, person: str) -> Forbidden | None:
    """A tier-only campaign lets in people holding its `min_tier` or a higher one (docs/retention.md)."""
    wanted = rec.spec.min_tier
    if wanted is None:
        return None
    held = tier_store.held(rec.tid, person)
    if held is None or wanted not in held.at_least:
        return Forbidden(
            "this campaign is for members of a higher tier", code=Code.TIER_REQUIRED,
            details={"min_tier": wanted, "tier": held.tier if held else None},
        )  # fmt: skip
    return None


def _tier_view(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, str] | None:
    held = tier_store.held(rec.tid, participant.owner)
    return {"id": held.tier, "name": held.name} if held else None


def _refuse(rec: CampaignRecord, external_id: str, identity: str, risk: fraud.Risk) -> tuple[dict[str, Any], bool]:
    """A blocked join writes no participant; someone who joined before still gets their own back."""
    existing = identity_service.find(rec.cid, external_id)
    if existing is not None and not existing.erased:
        return _joined(rec, existing), False
    fraud.count_refused(risk.windows, f"refused:{identity[:16]}")
    raise Forbidden("this join cannot be accepted", code=Code.JOIN_BLOCKED)


# Parts of a participant's own view that slices above this one add per campaign mode (a distribution
# campaign's commission balance); they plug them in at start (the entry points' wiring).
ViewSection = Callable[[CampaignRecord, ParticipantRecord, datetime], Any]
_sections: dict[tuple[str, str], ViewSection] = {}


def add_view_section(mode: str, key: str, section: ViewSection) -> None:
    """Add `key` to the own view of every participant of a `mode` campaign."""
    _sections[(mode, key)] = section


def me(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    rec = live.campaign(cid)
    participant = identity_service.authenticated(cid, authorization, now)
    view = _view(rec, participant)
    view["rewards"] = rewards.view(participant.code)
    if rec.mode in LADDER_MODES:
        view["rank"] = rank_of(leaderboard_store.get(cid)[0], participant.code)
    view["tier"] = _tier_view(rec, participant)
    for (mode, key), section in _sections.items():
        if mode == rec.mode:
            view[key] = section(rec, participant, now)
    return view
