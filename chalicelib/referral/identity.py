"""Who a participant is, and how a caller proves it (docs/identity.md).

A join proves an identity the campaign's way: a merchant-signed assertion (`signed`), an assertion from
Fission's own platform login (`platform`), or nothing at all for a fresh identity Fission mints
(`anonymous`, where only the participant token leads back). A client-supplied id alone never returns
an existing participant. Sensitive acts (export, erasure, a delivery address) need fresh proof.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.accounts import identity_keys
from chalicelib.campaigns.rules.records import CampaignRecord
from chalicelib.campaigns.rules.spec import IdentityMode
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Forbidden, Gone, NotFound, Unauthorized, ValidationFailed
from chalicelib.referral.rules import participants as domain
from chalicelib.referral.rules.participants import JoinRequest
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.referral.store import participants as store
from chalicelib.security import assertions, participant_tokens
from chalicelib.security.keyring import get_keyring

TOKEN_GRACE = timedelta(days=30)  # participants still read their rewards a while after the end
ANONYMOUS_PREFIX = "anon:"  # minted ids never collide with a merchant's (theirs come signed)
PLATFORM_KEY_ID = "fission"
PROOF_SECONDS = 300
ASSERTION_HEADER = "X-Fission-Assertion"
PROOF_HEADER = "X-Fission-Proof"


def code_secret() -> bytes:
    """The key behind invite codes and identity hashes: a user id maps to the same code every time."""
    return get_keyring().secret("participant-codes")


def phone_context(cid: str, identity: str) -> str:
    """What a participant's phone ciphertext is bound to: it decrypts only on their own record."""
    return f"participant:{cid}:{identity}:phone"


def erased_error() -> Gone:
    return Gone("this participant erased their data", code=Code.PARTICIPANT_ERASED)


def find(cid: str, external_id: str) -> ParticipantRecord | None:
    """The participant a merchant's user id joined as, by recomputing their code (no index needed)."""
    secret = code_secret()
    identity = domain.identity_hash(secret, cid, external_id)
    for attempt in range(domain.MAX_CODE_ATTEMPTS):
        found = store.get(domain.invite_code(secret, cid, external_id, attempt), consistent=True)
        if found is None:
            return None
        if found.identity == identity:
            return found
    return None


def _revoked() -> Unauthorized:
    return Unauthorized("the participant token was revoked; join again", code=Code.PARTICIPANT_TOKEN_REVOKED)


def token_holder(authorization: str | None, now: datetime) -> ParticipantRecord:
    """The participant a token was issued for, erased or not (any campaign). Erasure revokes every
    token, yet a repeated erasure with the same token still gets its answer."""
    claims = participant_tokens.from_header(authorization, now)
    participant = store.get(claims.code, consistent=True)
    if participant is None or participant.cid != claims.cid:
        raise NotFound("no such participant", code=Code.PARTICIPANT_NOT_FOUND)
    if claims.version != participant.token_version and participant.erased_at is None:
        raise _revoked()
    return participant


def authenticated(cid: str, authorization: str | None, now: datetime) -> ParticipantRecord:
    """The token's participant in campaign `cid`; 410 once they erased their data (the token,
    being stateless, still verifies)."""
    claims = participant_tokens.from_header(authorization, now)
    if claims.cid != cid:
        raise Forbidden("the token belongs to another campaign", code=Code.WRONG_CAMPAIGN)
    participant = store.get(claims.code, consistent=True)
    if participant is None:
        raise NotFound("no such participant", code=Code.PARTICIPANT_NOT_FOUND)
    if participant.erased:
        raise erased_error()
    if claims.version != participant.token_version:
        raise _revoked()
    return participant


def issue_token(rec: CampaignRecord, participant: ParticipantRecord) -> str:
    """The participant's token, good until a while after the campaign ends, or until revoked."""
    expires = rec.spec.ends_at + TOKEN_GRACE
    return participant_tokens.issue(rec.cid, participant.code, expires, participant.token_version)


def sign_out(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    """Revoke every token of the participant ("sign out everywhere"); the caller's token too."""
    participant = authenticated(cid, authorization, now)
    version = store.bump_token_version(participant.code)
    return {"signed_out": True, "token_version": version}


# ---- proving an identity -------------------------------------------------------------------------


@dataclass(frozen=True)
class Proven:
    """Who a join proved to be: the user id, the profile an assertion vouches for, and, for an
    anonymous participant coming back with their token, that participant."""

    external_id: str
    profile: Mapping[str, str] = field(default_factory=dict)
    returning: ParticipantRecord | None = None


@dataclass(frozen=True)
class Proof:
    """What a request carries to prove a sensitive act: a fresh assertion, or a one-time proof code."""

    assertion: str | None = None
    code: str | None = None


def proof_from(headers: Mapping[str, str]) -> Proof:
    """The fresh proof a sensitive participant call carries in its headers (case-insensitive)."""
    found = {name.lower(): value for name, value in headers.items()}
    return Proof(found.get(ASSERTION_HEADER.lower()) or None, found.get(PROOF_HEADER.lower()) or None)


def _mode(rec: CampaignRecord) -> IdentityMode:
    return rec.spec.identity.mode


def platform_issuer(platform: str) -> str:
    return f"{assertions.PLATFORM_ISSUER_PREFIX}{platform}"


def platform_keys(platform: str) -> assertions.KeySet:
    """The key Fission's own login for `platform` signs its assertions with (never leaves Fission)."""
    return assertions.KeySet(active={PLATFORM_KEY_ID: get_keyring().secret(f"platform-identity:{platform}")})


def mint_platform_assertion(
    platform: str, subject: str, now: datetime, profile: Mapping[str, str] | None = None
) -> str:
    """What a platform login hands the landing page after the platform vouched for the user."""
    claims: dict[str, Any] = {
        "iss": platform_issuer(platform), "sub": subject, "aud": assertions.AUDIENCE, "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + assertions.MAX_LIFETIME_SECONDS, **(profile or {}),
    }  # fmt: skip
    return assertions.sign(claims, PLATFORM_KEY_ID, platform_keys(platform).active[PLATFORM_KEY_ID])


def _verified(rec: CampaignRecord, token: str, now: datetime) -> assertions.Assertion:
    settings = rec.spec.identity
    if settings.mode is IdentityMode.PLATFORM and settings.platform is not None:
        return assertions.verify(token, platform_issuer(settings.platform), platform_keys(settings.platform), now)
    return assertions.verify(token, rec.tid, identity_keys.key_set(rec.tid), now)


def prove_join(rec: CampaignRecord, request: JoinRequest, authorization: str | None, now: datetime) -> Proven:
    """Who the joining caller is, as the campaign's identity mode requires them to prove it."""
    if _mode(rec) is IdentityMode.ANONYMOUS:
        if request.external_id is not None or request.assertion is not None:
            raise ValidationFailed(
                "this campaign is anonymous: Fission gives each visitor an identity, so send no external_id "
                "or assertion (come back with the participant token instead)",
                code=Code.EXTERNAL_ID_NOT_ALLOWED,
            )
        if participant_tokens.bearer(authorization) is not None:
            return Proven(external_id="", returning=authenticated(rec.cid, authorization, now))
        return Proven(external_id=ANONYMOUS_PREFIX + secrets.token_urlsafe(18))
    if request.assertion is None:
        # The same answer whether or not the id has joined: nothing to enumerate.
        raise Unauthorized("this campaign needs an identity assertion to join", code=Code.IDENTITY_REQUIRED)
    verified = _verified(rec, request.assertion, now)
    if request.external_id is not None and request.external_id != verified.subject:
        raise ValidationFailed("external_id differs from the assertion's subject", code=Code.EXTERNAL_ID_MISMATCH)
    return Proven(external_id=verified.subject, profile=verified.profile)


def issue_proof(cid: str, authorization: str | None, now: datetime) -> dict[str, Any]:
    """A one-time code an anonymous participant's page fetches right before a sensitive act."""
    participant = authenticated(cid, authorization, now)
    code = secrets.token_urlsafe(24)
    expires = int(now.timestamp()) + PROOF_SECONDS
    store.add_proof(participant.code, _digest(code), iso(now), expires)
    return {"proof": code, "expires_in": PROOF_SECONDS}


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def prove_fresh(rec: CampaignRecord, participant: ParticipantRecord, proof: Proof, now: datetime) -> None:
    """Refuse a sensitive act (export, erasure, a delivery address) without fresh proof that the caller
    is the participant: an assertion younger than 15 minutes, or, anonymous, a one-time proof code."""
    if _mode(rec) is IdentityMode.ANONYMOUS:
        if proof.code is None or not store.use_proof(participant.code, _digest(proof.code), int(now.timestamp())):
            raise Unauthorized(
                f"this needs a fresh one-time proof: POST /v1/campaigns/{rec.cid}/me/proof, then send it as "
                f"{PROOF_HEADER}", code=Code.PROOF_REQUIRED,
            )  # fmt: skip
        return
    if proof.assertion is None:
        raise Unauthorized(f"this needs a fresh identity assertion in {ASSERTION_HEADER}", code=Code.PROOF_REQUIRED)
    # An assertion verifies only within 15 minutes of `iat` (its lifetime is capped), so it is fresh.
    verified = _verified(rec, proof.assertion, now)
    if domain.identity_hash(code_secret(), rec.cid, verified.subject) != participant.identity:
        raise Forbidden("the assertion is for someone else", code=Code.PROOF_MISMATCH)


def by_code(code: str, *, consistent: bool = False) -> ParticipantRecord | None:
    """The participant with invite code `code`, erased or not (other slices check `erased` themselves)."""
    return store.get(code, consistent=consistent)


def persons(codes: set[str]) -> dict[str, tuple[str, str]]:
    """Participant code -> (tenant, person uid) for the codes that have a person (profiles, automations)."""
    return store.persons(codes)
