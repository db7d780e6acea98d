"""Who a participant is: found by the merchant's user id, or proven by their participant token."""

from __future__ import annotations

from datetime import datetime

from chalicelib.core.codes import Code
from chalicelib.core.errors import Forbidden, Gone, NotFound
from chalicelib.referral.rules import participants as domain
from chalicelib.referral.rules.records import ParticipantRecord
from chalicelib.referral.store import participants as store
from chalicelib.security import participant_tokens
from chalicelib.security.keyring import get_keyring


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


def token_holder(authorization: str | None, now: datetime) -> ParticipantRecord:
    """The participant a token was issued for, erased or not (any campaign)."""
    claims = participant_tokens.from_header(authorization, now)
    participant = store.get(claims.code, consistent=True)
    if participant is None or participant.cid != claims.cid:
        raise NotFound("no such participant", code=Code.PARTICIPANT_NOT_FOUND)
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
    return participant


def by_code(code: str, *, consistent: bool = False) -> ParticipantRecord | None:
    """The participant with invite code `code`, erased or not (other slices check `erased` themselves)."""
    return store.get(code, consistent=consistent)


def persons(codes: set[str]) -> dict[str, tuple[str, str]]:
    """Participant code -> (tenant, person uid) for the codes that have a person (profiles, automations)."""
    return store.persons(codes)
