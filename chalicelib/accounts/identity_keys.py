"""The keys a tenant's servers sign identity assertions with (docs/identity.md).

Separate from the webhook secret. A key is shown once, when it is made, and kept encrypted. Rotation
overlaps: a new key is made while the old one still verifies, and the old one is retired when every
server signs with the new one. Every creation and retirement is in the audit trail, and needs a fresh TOTP
step-up: a key signs any participant identity the tenant's campaigns accept.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Any

from chalicelib.accounts import audit, totp
from chalicelib.accounts.rules.records import IdentityKeyRecord
from chalicelib.accounts.store import identity_keys as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.ids import new_id
from chalicelib.core.rbac import Principal
from chalicelib.security import assertions
from chalicelib.security.pii import get_cipher

MAX_ACTIVE_KEYS = 3
# Joins verify against the tenant's keys on every request: a short per-container cache keeps that read
# off the hot path; a retired key stops verifying within this time.
KEY_CACHE_SECONDS = 5.0

_cache: dict[str, tuple[float, assertions.KeySet]] = {}


def _context(tid: str, kid: str) -> str:
    return f"identity-key:{tid}:{kid}"


def _view(key: IdentityKeyRecord) -> dict[str, Any]:
    return {"key_id": key.kid, "status": key.status, "created_at": key.created_at, "created_by": key.created_by,
            "retired_at": key.retired_at}  # fmt: skip


def create(actor: Principal, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """A new active key, after a fresh TOTP step-up; its secret is in this answer and never again."""
    totp.require_step_up(actor, totp_code, now)
    return issue(actor, now)


def issue(actor: Principal, now: datetime) -> dict[str, Any]:
    """A new active key without the step-up: for the local stack's own seeding (local/demo.py), which runs
    in-process with the machine's access and has no one to ask for a code. Every request goes through `create`."""
    active = [k for k in store.for_tenant(actor.tid) if k.status == "active"]
    if len(active) >= MAX_ACTIVE_KEYS:
        raise Conflict(
            f"at most {MAX_ACTIVE_KEYS} identity keys are active at once; retire one first",
            code=Code.TOO_MANY_IDENTITY_KEYS,
        )
    kid = new_id("idk")
    secret = secrets.token_urlsafe(32)
    key = IdentityKeyRecord(
        tid=actor.tid, kid=kid, secret_enc=get_cipher().encrypt(secret, _context(actor.tid, kid)), status="active",
        created_at=iso(now), created_by=actor.email,
    )  # fmt: skip
    store.add(key)
    audit.record(actor.tid, actor.email, "identity_key.create", kid, {}, now)
    forget()
    return {**_view(key), "secret": secret, "algorithm": assertions.ALGORITHM, "audience": assertions.AUDIENCE,
            "issuer": actor.tid}  # fmt: skip


def list_keys(actor: Principal) -> dict[str, Any]:
    return {"items": [_view(k) for k in store.for_tenant(actor.tid)]}


def retire(actor: Principal, kid: str, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """The key stops verifying assertions (within seconds, see KEY_CACHE_SECONDS)."""
    totp.require_step_up(actor, totp_code, now)
    if not store.retire(actor.tid, kid, iso(now)):
        found = next((k for k in store.for_tenant(actor.tid) if k.kid == kid), None)
        if found is None:
            raise NotFound("no such identity key", code=Code.IDENTITY_KEY_NOT_FOUND)
        return _view(found)  # retired before: the same answer
    audit.record(actor.tid, actor.email, "identity_key.retire", kid, {}, now)
    forget()
    retired = next(k for k in store.for_tenant(actor.tid) if k.kid == kid)
    return _view(retired)


def key_set(tid: str) -> assertions.KeySet:
    """The tenant's verifying keys (decrypted) and the ids of its retired ones."""
    cached = _cache.get(tid)
    if cached is not None and time.monotonic() - cached[0] < KEY_CACHE_SECONDS:
        return cached[1]
    found = store.for_tenant(tid, consistent=False)
    cipher = get_cipher()
    active = {k.kid: cipher.decrypt(k.secret_enc, _context(tid, k.kid)).encode() for k in found if k.status == "active"}
    keys = assertions.KeySet(active=active, retired=frozenset(k.kid for k in found if k.status == "retired"))
    _cache[tid] = (time.monotonic(), keys)
    return keys


def forget() -> None:
    """Drop the cached keys of every tenant (after a change here, and in tests)."""
    _cache.clear()
