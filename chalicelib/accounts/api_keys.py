"""API keys for merchant back ends: made and revoked by owners, checked on every request (docs/api-keys.md).

A key is shown once, when it is made; only the SHA-256 of its secret is stored. Each request reads the
key with one consistent GetItem, so a revocation holds from the next request on. Every request a key makes
is added to the key's usage log (one PutItem of its own, partitioned by key and day), and `last_used_at` is
moved on at most about once a minute per key. Making and revoking keys needs a fresh TOTP step-up. Both are
audited, and so is whatever a key does that an operator's act would be (the actor `apikey:{kid}`).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from chalicelib.accounts import audit, totp
from chalicelib.accounts.rules import api_keys as domain
from chalicelib.accounts.rules.api_keys import ApiKeyCreate, UsageQuery
from chalicelib.accounts.rules.records import ApiKeyRecord, ApiKeyUse
from chalicelib.accounts.store import api_keys as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, FissionError, NotFound, Unauthorized, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal, Role

ACTIVE, REVOKED = "active", "revoked"
# When this container last wrote each key's `last_used_at` (service time): with the stored time it read,
# this keeps a busy key to about one write a minute however many requests it makes.
_written: dict[str, datetime] = {}


def actor_id(kid: str) -> str:
    """How the audit trail names a key."""
    return f"apikey:{kid}"


def _view(key: ApiKeyRecord) -> dict[str, Any]:
    return {"key_id": key.kid, "name": key.name, "scopes": list(key.scopes), "status": key.status,
            "created_at": key.created_at, "created_by": key.created_by, "revoked_at": key.revoked_at,
            "revoked_by": key.revoked_by, "last_used_at": key.last_used_at}  # fmt: skip


def create(actor: Principal, body: ApiKeyCreate, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """A new active key; the key itself is in this answer and never again.

    Always after a fresh TOTP step-up: the answer is a credential. For the scopes whose routes need a
    step-up (STEP_UP_SCOPES) it is also the one the key's own calls stand on: a key has no second factor."""
    totp.require_step_up(actor, totp_code, now)
    active = [k for k in store.for_tenant(actor.tid) if k.status == ACTIVE]
    if len(active) >= domain.MAX_ACTIVE_KEYS:
        raise Conflict(
            f"at most {domain.MAX_ACTIVE_KEYS} API keys are active at once; revoke one first",
            code=Code.TOO_MANY_API_KEYS,
        )
    kid = new_id(domain.KEY_ID_PREFIX)
    secret = secrets.token_hex(domain.SECRET_BYTES)
    key = ApiKeyRecord(
        tid=actor.tid, kid=kid, name=body.name, scopes=tuple(s.value for s in body.scopes),
        secret_hash=domain.secret_hash(secret), status=ACTIVE, created_at=iso(now), created_by=actor.email,
    )  # fmt: skip
    store.add(key)
    audit.record(actor.tid, actor.email, "api_key.create", kid, {"name": key.name, "scopes": list(key.scopes)}, now)
    return {**_view(key), "key": domain.format_key(kid, secret)}


def list_keys(actor: Principal) -> dict[str, Any]:
    return {"items": [_view(k) for k in store.for_tenant(actor.tid)]}


def revoke(actor: Principal, kid: str, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """The key stops working with the next request (after a fresh step-up: it can cut a merchant's back end
    off). Revoking again answers the same."""
    totp.require_step_up(actor, totp_code, now)
    revoked = store.revoke(actor.tid, kid, iso(now), actor.email)
    found = store.get(kid)
    if found is None or found.tid != actor.tid:
        raise NotFound("no such API key", code=Code.API_KEY_NOT_FOUND)
    if revoked:
        audit.record(actor.tid, actor.email, "api_key.revoke", kid, {"name": found.name}, now)
    return _view(found)


def authenticate(authorization: str | None, now: datetime) -> ApiKeyRecord:
    """The active key `Authorization: Bearer fsk_...` carries; 401 INVALID_API_KEY or API_KEY_REVOKED."""
    parsed = domain.parse_key(authorization)
    if parsed is None:
        raise Unauthorized("this is not an API key Fission issued", code=Code.INVALID_API_KEY)
    kid, secret = parsed
    key = store.get(kid)
    if key is None or not domain.secret_matches(key.secret_hash, secret):
        raise Unauthorized("this is not an API key Fission issued", code=Code.INVALID_API_KEY)
    if key.status != ACTIVE:  # said only to the holder of the right secret
        raise Unauthorized("this API key was revoked", code=Code.API_KEY_REVOKED)
    _record_use(key, now)
    return key


def principal(key: ApiKeyRecord) -> Principal:
    """Who a key's request acts as: the key itself, in its tenant (its scopes, not a role, decide)."""
    return Principal(tid=key.tid, email=actor_id(key.kid), role=Role.VIEWER, api_key=key.kid)


def _record_use(key: ApiKeyRecord, now: datetime) -> None:
    """Move `last_used_at` on when it is a minute old: at most about one write a minute per key."""
    if not domain.last_used_due(key.last_used_at, now):
        return
    last = _written.get(key.kid)
    if last is not None and now - last < domain.LAST_USED_EVERY:
        return
    _written[key.kid] = now
    try:
        store.touch(key.kid, iso(now), iso(now - domain.LAST_USED_EVERY))
    except FissionError as exc:  # bookkeeping never fails the request it notes
        logger.warning("could not record an API key's use", key_id=key.kid, error=exc.message)


def note_use(
    key: Principal, method: str, route: str, status: int, request_id: str | None, client_ip: str | None, now: datetime
) -> None:
    """Add one use to the key's usage log: one PutItem of its own (never the audit chain's head, which
    serialises appends), whose failure is logged with the use and never fails the request."""
    if key.api_key is None:
        return
    request_id = request_id[:128] if request_id else None
    use = ApiKeyUse(
        kid=key.api_key, at=iso(now), method=method, route=route, status=status,
        ref=request_id or new_id("use"), request_id=request_id, client_ip=client_ip,
    )  # fmt: skip
    try:
        store.add_use(key.tid, use, int((now + domain.USE_RETENTION).timestamp()))
    except FissionError as exc:
        logger.warning(
            "could not record an API key's use",
            key_id=use.kid, method=method, route=route, status=status, request_id=request_id, error=exc.message,
        )  # fmt: skip


def usage(actor: Principal, kid: str, query: UsageQuery, now: datetime) -> dict[str, Any]:
    """A key's uses, newest first, from its usage log; the tenant's own keys only (404 otherwise)."""
    found = store.get(kid)
    if found is None or found.tid != actor.tid:
        raise NotFound("no such API key", code=Code.API_KEY_NOT_FOUND)
    until = query.until or now
    since = query.since or until - domain.USAGE_SPAN
    if since > until:
        raise ValidationFailed(
            "from must not be after to",
            details={"errors": [{"field": "from", "type": "range", "message": "after to"}]},
        )
    since = max(since, until - domain.USE_RETENTION)  # nothing older is kept
    page = store.uses(actor.tid, kid, iso(since), iso(until), query.cursor, query.limit, domain.USAGE_DAYS_PER_PAGE)
    items = [
        {"at": u.at, "method": u.method, "route": u.route, "status": u.status, "request_id": u.request_id,
         "client_ip": u.client_ip}
        for u in page.items
    ]  # fmt: skip
    return {"key_id": kid, "from": iso(since), "to": iso(until), "items": items, "next_cursor": page.next_cursor}


def forget() -> None:
    """Forget which uses this container wrote (tests)."""
    _written.clear()
