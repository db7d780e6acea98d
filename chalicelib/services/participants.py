"""Joining a campaign, short invite links, and a participant's own progress."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from chalicelib.config import get_settings
from chalicelib.domain import campaigns as campaign_rules
from chalicelib.domain import commission
from chalicelib.domain import participants as domain
from chalicelib.domain.clock import iso, parse_iso
from chalicelib.domain.leaderboard import rank_of
from chalicelib.domain.participants import JoinRequest
from chalicelib.errors import Forbidden, NotFound, Unavailable, ValidationFailed
from chalicelib.security import click_tokens, participant_tokens
from chalicelib.security.keyring import get_keyring
from chalicelib.security.pii import get_cipher, normalize_phone
from chalicelib.services import rewards
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


def public_url(path: str) -> str:
    return get_settings().public_base_url.rstrip("/") + path


def _progress(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    if rec.mode not in LADDER_MODES:
        return {}
    return domain.ladder_progress(rec.spec["rules"], len(participant.counted))


def _view(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    return {
        "participant_id": participant.code,
        "invite_code": participant.code,
        "invite_url": public_url(f"/v1/i/{participant.code}"),
        "poster_url": public_url(f"/v1/posters/{rec.cid}/{participant.code}.jpg"),
        "invited_by": participant.inviter,
        "joined_at": participant.joined_at,
        "progress": _progress(rec, participant),
    }


def _joined(rec: CampaignRecord, participant: ParticipantRecord) -> dict[str, Any]:
    """The view a join answers with: the participant plus their token."""
    expires = parse_iso(rec.spec["ends_at"]) + TOKEN_GRACE
    return {**_view(rec, participant), "token": participant_tokens.issue(rec.cid, participant.code, expires)}


def _inviter(ref: str | None) -> domain.Inviter | None:
    if not ref or not re.fullmatch(domain.CODE_PATTERN, ref):
        return None
    found = store.get(ref)
    if found is None:
        return None
    return domain.Inviter(found.code, found.cid, found.identity, found.device_id, found.phone_hash)


def _touches(tokens: list[str] | None) -> list[domain.Touch | None]:
    """The landing page's click tokens, verified: None marks one we did not sign."""
    clicks = [click_tokens.verify(token) for token in tokens or []]
    return [domain.Touch(c.code, c.at) if c is not None else None for c in clicks]


def join(cid: str, request: JoinRequest, now: datetime) -> tuple[dict[str, Any], bool]:
    """Join once; a repeat returns the same participant. One conditional write on the hot path.

    Returns the participant view and whether this call created it.
    """
    rec = open_campaign(cid, now)
    secret = _secret()
    identity = domain.identity_hash(secret, cid, request.external_id)
    phone_enc = phone_hash = None
    if request.phone:
        try:
            digits = normalize_phone(request.phone)
        except ValueError:
            raise ValidationFailed(
                "phone: not a phone number",
                details={"errors": [{"field": "phone", "type": "phone", "message": "not a phone number"}]},
            ) from None
        cipher = get_cipher()
        phone_enc = cipher.encrypt(digits, f"participant:{cid}:{identity}:phone")
        phone_hash = cipher.blind_index(digits, "phone")
    inviter, refusal = domain.first_touch(
        _touches(request.clicks),
        request.ref or None,
        now=int(now.timestamp()),
        window_seconds=domain.attribution_window_seconds(rec.spec.get("rules", {})),
        lookup=_inviter,
        cid=cid,
        identity=identity,
        device_id=request.device_id,
        phone_hash=phone_hash,
    )
    for attempt in range(domain.MAX_CODE_ATTEMPTS):
        participant = ParticipantRecord(
            cid=cid,
            tid=rec.tid,
            code=domain.invite_code(secret, cid, request.external_id, attempt),
            identity=identity,
            joined_at=iso(now),
            qualified_at=iso(now) if domain.qualifies_on_join(rec.spec.get("rules", {})) else None,
            nickname=request.nickname,
            avatar_url=str(request.avatar_url) if request.avatar_url else None,
            phone_enc=phone_enc,
            phone_hash=phone_hash,
            device_id=request.device_id,
            channel=request.channel,
            inviter=inviter,
            attribution=refusal,
        )
        if store.insert(participant):
            return _joined(rec, participant), True
        existing = store.get(participant.code, consistent=True)
        if existing is not None and existing.identity == identity:
            # The first join wins: its inviter stays, whatever ref a repeat carries.
            return _joined(rec, existing), False
    raise Unavailable("no free invite code for this participant; retry", code="CODE_UNAVAILABLE")


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


def authenticated(cid: str, authorization: str | None, now: datetime) -> ParticipantRecord:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Forbidden("this call needs the participant token from the join", code="PARTICIPANT_TOKEN_REQUIRED")
    claims = participant_tokens.verify(token.strip(), now)
    if claims.cid != cid:
        raise Forbidden("the token belongs to another campaign", code="WRONG_CAMPAIGN")
    participant = store.get(claims.code, consistent=True)
    if participant is None:
        raise NotFound("no such participant", code="PARTICIPANT_NOT_FOUND")
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
    if channel is not None and not re.fullmatch(r"[a-z0-9_]{1,32}", channel):
        channel = None  # an unknown channel tag is dropped, never an error for the visitor
    rec = campaign(participant.cid)
    store.record_click(rec.cid, code, channel, now)
    base = rec.spec.get("landing_url") or public_url("/")
    parts = urlsplit(base)
    query = [q for q in parts.query.split("&") if q]
    click = click_tokens.issue(code, int(now.timestamp()))
    query.append(urlencode({"campaign": rec.cid, "ref": code, **({"ch": channel} if channel else {}), "click": click}))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "&".join(query), parts.fragment))
