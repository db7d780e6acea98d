"""Joining a campaign, short invite links, and a participant's own progress."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from chalicelib.config import get_settings
from chalicelib.domain import campaigns as campaign_rules
from chalicelib.domain import commission
from chalicelib.domain import participants as domain
from chalicelib.domain import profiles as profile_rules
from chalicelib.domain.clock import iso, parse_iso
from chalicelib.domain.leaderboard import rank_of
from chalicelib.domain.participants import JoinRequest
from chalicelib.errors import Conflict, Forbidden, Gone, NotFound, Unavailable, ValidationFailed
from chalicelib.security import click_tokens, participant_tokens
from chalicelib.security.keyring import get_keyring
from chalicelib.security.pii import get_cipher, normalize_phone
from chalicelib.services import fraud, rewards
from chalicelib.store import campaigns as campaign_store
from chalicelib.store import leaderboard as leaderboard_store
from chalicelib.store import orders as order_store
from chalicelib.store import participants as store
from chalicelib.store.campaigns import CampaignRecord
from chalicelib.store.participants import ParticipantRecord

TOKEN_GRACE = timedelta(days=30)  # participants still read their rewards a while after the end
CAMPAIGN_CACHE_SECONDS = 5.0
LADDER_MODES = frozenset({"invite", "poster"})

# Campaign documents change rarely and every join reads one: a short per-container cache
# takes that read off the hot path without serving a stale status for long.
_campaigns: dict[str, tuple[float, CampaignRecord]] = {}


def campaign(cid: str) -> CampaignRecord:
    cached = _campaigns.get(cid)
    if cached is not None and time.monotonic() - cached[0] < CAMPAIGN_CACHE_SECONDS:
        return cached[1]
    rec = campaign_store.get(cid)
    if rec is None or rec.status == campaign_rules.Status.DRAFT.value:
        raise NotFound("no such campaign", code="CAMPAIGN_NOT_FOUND")
    _campaigns[cid] = (time.monotonic(), rec)
    return rec


def open_campaign(cid: str, now: datetime) -> CampaignRecord:
    rec = campaign(cid)
    campaign_rules.ensure_open(
        campaign_rules.Status(rec.status), parse_iso(rec.spec["starts_at"]), parse_iso(rec.spec["ends_at"]), now
    )
    return rec


def _secret() -> bytes:
    return get_keyring().secret("participant-codes")


def phone_context(cid: str, identity: str) -> str:
    """What a participant's phone ciphertext is bound to: it decrypts only on their own record."""
    return f"participant:{cid}:{identity}:phone"


def erased_error() -> Gone:
    return Gone("this participant erased their data", code="PARTICIPANT_ERASED")


def public_url(path: str) -> str:
    return get_settings().public_base_url.rstrip("/") + path


def _progress(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    if rec.mode not in LADDER_MODES:
        return {}
    progress = domain.ladder_progress(domain.rules_for(rec.spec, participant.variant), len(participant.counted))
    # Invitees held for review: "pending review", never why.
    return {**progress, "pending_review_invites": len(participant.held)}


def _share(rec: CampaignRecord, variant: str | None) -> dict[str, Any]:
    """The share copy this participant's landing page uses: the campaign's, or their experiment arm's."""
    share = dict(rec.spec.get("share") or {})
    for arm in (rec.spec.get("experiment") or {}).get("variants", []):
        if arm["id"] == variant and arm.get("share"):
            share.update(arm["share"])
    return share


def _view(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    return {
        "participant_id": participant.code,
        "invite_code": participant.code,
        "invite_url": public_url(f"/v1/i/{participant.code}"),
        "poster_url": public_url(f"/v1/posters/{rec.cid}/{participant.code}.jpg"),
        "invited_by": participant.inviter,
        "joined_at": participant.joined_at,
        "variant": participant.variant,
        "share": _share(rec, participant.variant),
        "progress": _progress(rec, participant),
        **({"review": "pending"} if participant.review == "held" else {}),
    }


def _joined(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    """The view a join answers with: the participant plus their token."""
    expires = parse_iso(rec.spec["ends_at"]) + TOKEN_GRACE
    return {**_view(rec, participant), "token": participant_tokens.issue(rec.cid, participant.code, expires)}


def _inviter(ref: str | None, records: dict[str, ParticipantRecord] | None = None) -> domain.Inviter | None:
    if not ref or not re.fullmatch(domain.CODE_PATTERN, ref):
        return None
    found = store.get(ref)
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


def join(cid: str, request: JoinRequest, now: datetime, ip: str | None = None) -> tuple[dict[str, Any], bool]:
    """Join once; a repeat returns the same participant. One conditional write on the hot path.

    `ip` is the request's source address, when known: stored only as a keyed hash, it feeds the
    fraud signals (docs/fraud.md). Returns the participant view and whether this call created it.
    """
    rec = open_campaign(cid, now)
    secret = _secret()
    identity = domain.identity_hash(secret, cid, request.external_id)
    phone_enc = phone_hash = digits = None
    if request.phone:
        try:
            digits = normalize_phone(request.phone)
        except ValueError:
            raise ValidationFailed(
                "phone: not a phone number",
                details={"errors": [{"field": "phone", "type": "phone", "message": "not a phone number"}]},
            ) from None
        cipher = get_cipher()
        phone_enc = cipher.encrypt(digits, phone_context(cid, identity))
        phone_hash = cipher.blind_index(digits, "phone")
    person = profile_rules.person_id(secret, rec.tid, request.external_id)
    # How messages reach the person (docs/audience.md), readable only as their profile's.
    contact = {"external_id": request.external_id, "phone": digits, "email": request.email}
    contact_json = json.dumps({k: v for k, v in contact.items() if v}, sort_keys=True)
    contact_enc = get_cipher().encrypt(contact_json, profile_rules.contact_context(rec.tid, person))
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
        window_seconds=domain.attribution_window_seconds(rec.spec.get("rules", {})),
        lookup=lookup,
        cid=cid,
        identity=identity,
        device_id=request.device_id,
        phone_hash=phone_hash,
    )
    ip_hash = fraud.fingerprint("ip", ip)
    risk = fraud.assess_join(
        rec, code=domain.invite_code(secret, cid, request.external_id), ip_hash=ip_hash, device_id=request.device_id,
        phone_digits=digits, phone_hash=phone_hash, inviter=records.get(inviter) if inviter else None, now=now,
    )  # fmt: skip
    if risk.decision == "block":
        return _refuse(rec, request.external_id, identity, risk)
    held = risk.decision == "hold"
    qualifies = domain.qualifies_on_join(rec.spec.get("rules", {}))
    for attempt in range(domain.MAX_CODE_ATTEMPTS):
        participant = ParticipantRecord(
            cid=cid,
            tid=rec.tid,
            code=domain.invite_code(secret, cid, request.external_id, attempt),
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
            nickname=request.nickname,
            avatar_url=str(request.avatar_url) if request.avatar_url else None,
            phone_enc=phone_enc,
            phone_hash=phone_hash,
            device_id=request.device_id,
            channel=request.channel,
            inviter=inviter,
            attribution=refusal,
            variant=domain.assign_variant(secret, cid, identity, rec.spec.get("experiment")),
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
                raise Conflict("this user erased their data in this campaign", code="PARTICIPANT_ERASED")
            # The first join wins: its inviter stays, whatever ref a repeat carries.
            return _joined(rec, existing), False
    raise Unavailable("no free invite code for this participant; retry", code="CODE_UNAVAILABLE")


def _refuse(rec: CampaignRecord, external_id: str, identity: str, risk: fraud.Risk) -> tuple[dict[str, Any], bool]:
    """A blocked join writes no participant; someone who joined before still gets their own back."""
    existing = find(rec.cid, external_id)
    if existing is not None and not existing.erased:
        return _joined(rec, existing), False
    fraud.count_refused(risk.windows, f"refused:{identity[:16]}")
    raise Forbidden("this join cannot be accepted", code="JOIN_BLOCKED")


def find(cid: str, external_id: str) -> ParticipantRecord | None:
    """The participant a merchant's user id joined as, by recomputing their code (no index needed)."""
    secret = _secret()
    identity = domain.identity_hash(secret, cid, external_id)
    for attempt in range(domain.MAX_CODE_ATTEMPTS):
        found = store.get(domain.invite_code(secret, cid, external_id, attempt), consistent=True)
        if found is None:
            return None
        if found.identity == identity:
            return found
    return None


def token_holder(authorization: str | None, now: datetime) -> ParticipantRecord:
    """The participant a token was issued for, erased or not (any campaign)."""
    claims = participant_tokens.from_header(authorization, now)
    participant = store.get(claims.code, consistent=True)
    if participant is None or participant.cid != claims.cid:
        raise NotFound("no such participant", code="PARTICIPANT_NOT_FOUND")
    return participant


def authenticated(cid: str, authorization: str | None, now: datetime) -> ParticipantRecord:
    """The token's participant in campaign `cid`; 410 once they erased their data (the token,
    being stateless, still verifies)."""
    claims = participant_tokens.from_header(authorization, now)
    if claims.cid != cid:
        raise Forbidden("the token belongs to another campaign", code="WRONG_CAMPAIGN")
    participant = store.get(claims.code, consistent=True)
    if participant is None:
        raise NotFound("no such participant", code="PARTICIPANT_NOT_FOUND")
    if participant.erased:
        raise erased_error()
    return participant


def me(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    rec = campaign(cid)
    participant = authenticated(cid, authorization, now)
    view = _view(rec, participant)
    view["rewards"] = rewards.view(participant.code)
    if rec.mode in LADDER_MODES:
        view["rank"] = rank_of(leaderboard_store.get(cid)[0], participant.code)
    if rec.mode == "distribution":
        view["commission"] = commission.balance(order_store.ledger(participant.code), iso(now))
    return view


def follow_link(code: str, channel: str | None, now: datetime) -> str:
    """A short link was opened: record the click and return where to send the visitor
    (the campaign's landing page with the ref code and a signed click token, which the page
    hands back on join so the first click can win)."""
    participant = store.get(code) if re.fullmatch(domain.CODE_PATTERN, code) else None
    if participant is None:
        raise NotFound("no such invite code", code="INVITE_CODE_NOT_FOUND")
    if participant.erased:
        raise erased_error()
    if channel is not None and not re.fullmatch(r"[a-z0-9_]{1,32}", channel):
        channel = None  # an unknown channel tag is dropped, never an error for the visitor
    rec = campaign(participant.cid)
    store.record_click(rec.cid, code, channel, now)
    click = click_tokens.issue(code, int(now.timestamp()))
    return landing_link(rec, {"ref": code, **({"ch": channel} if channel else {}), "click": click})


def landing_link(rec: CampaignRecord, params: dict[str, str]) -> str:
    """The campaign's landing page with `campaign` and `params` added to its query. Without a landing
    URL of its own, a campaign uses the built-in landing page (web/l/)."""
    parts = urlsplit(rec.spec.get("landing_url") or get_settings().site_url("/l/"))
    query = [q for q in parts.query.split("&") if q]
    query.append(urlencode({"campaign": rec.cid, **params}))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(query), parts.fragment))
