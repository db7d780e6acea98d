"""A tenant's WeCom, official account and mini program credentials: set by an owner, audited, never shown in clear.

The whole document is encrypted with the PII key, bound to the tenant and the platform; the audit trail and the
view carry keyed fingerprints of the secrets, never the secrets. Changing any of them needs a fresh TOTP step-up:
whoever holds them acts as the merchant on WeChat or WeCom, and could forge its callbacks.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from chalicelib.accounts import audit, totp
from chalicelib.core.clock import iso
from chalicelib.core.config import get_settings
from chalicelib.core.rbac import Principal
from chalicelib.core.validation import validation_error
from chalicelib.platforms.rules import credentials as rules
from chalicelib.platforms.rules.credentials import Credentials, Platform
from chalicelib.platforms.rules.tokens import PlatformNotConfigured
from chalicelib.platforms.store import credentials as store
from chalicelib.security.pii import get_cipher


def _context(tid: str, platform: str) -> str:
    return f"platform:{tid}:{platform}"


def fingerprint(value: str) -> str:
    """A secret as the view and the audit trail show it: keyed, so equal secrets match and a guess cannot be
    tested by someone who reads them."""
    return get_cipher().blind_index(value, "platform-secret")[:12]


def _load(tid: str, platform: Platform) -> tuple[Credentials | None, store.StoredCredentials | None]:
    stored = store.get(tid, platform)
    if stored is None:
        return None, None
    document = json.loads(get_cipher().decrypt(stored.document_enc, _context(tid, platform)))
    return rules.load(platform, document), stored


def get_credentials(tid: str, platform: Platform) -> Credentials:
    """The tenant's credentials for `platform`, in clear, for the calls and callbacks made with them."""
    found, _stored = _load(tid, platform)
    if found is None:
        raise PlatformNotConfigured(platform)
    return found


def find_credentials(tid: str, platform: Platform) -> Credentials | None:
    return _load(tid, platform)[0]


def callback_url(platform: Platform, tid: str) -> str | None:
    path = rules.callback_path(platform, tid)
    return get_settings().public_base_url.rstrip("/") + path if path is not None else None


def _view(tid: str, platform: Platform, found: Credentials | None, updated_at: str | None) -> dict[str, Any]:
    return rules.view(platform, found, fingerprint, callback_url(platform, tid), updated_at)


def read(actor: Principal, platform: Platform) -> dict[str, Any]:
    found, stored = _load(actor.tid, platform)
    return _view(actor.tid, platform, found, stored.updated_at if stored else None)


def _audit_details(platform: Platform, found: Credentials, changed: list[str]) -> dict[str, Any]:
    document = found.model_dump()
    secrets = rules.SECRETS[platform]
    shown = {
        key: (fingerprint(value) if key in secrets else value)
        for key, value in document.items()
        if key in changed and value is not None
    }
    return {"platform": platform, "changed": changed, "values": shown}


def update(
    actor: Principal, platform: Platform, update: BaseModel, totp_code: str | None, now: datetime
) -> dict[str, Any]:
    """Set any of the platform's fields (the others keep their values); checked whole before the step-up is
    asked for, so a typo spends no code."""
    current, stored = _load(actor.tid, platform)
    try:
        after = rules.merged(platform, current.model_dump() if current else None, update)
    except ValidationError as exc:
        raise validation_error(exc) from exc
    totp.require_step_up(actor, totp_code, now)
    changed = rules.changed_fields(platform, current, after)
    at = iso(now)
    if changed or stored is None:
        sealed = get_cipher().encrypt(after.model_dump_json(), _context(actor.tid, platform))
        store.put(actor.tid, platform, sealed, at, stored.version if stored else None)
        action = "platform.connect" if stored is None else "platform.update"
        audit.record(actor.tid, actor.email, action, platform, _audit_details(platform, after, changed), now)
    else:
        at = stored.updated_at
    return _view(actor.tid, platform, after, at)


def disconnect(actor: Principal, platform: Platform, totp_code: str | None, now: datetime) -> None:
    """Forget the platform's credentials (cached tokens made with them are never used again: their cache key
    names the credentials)."""
    totp.require_step_up(actor, totp_code, now)
    if store.delete(actor.tid, platform):
        audit.record(actor.tid, actor.email, "platform.disconnect", platform, {"platform": platform}, now)


def connect_for_local_seed(tid: str, platform: Platform, found: Credentials, now: datetime) -> bool:
    """Store `found` as the tenant's credentials with no operator and no step-up: for `make run`'s demo seed only
    (local/demo.py), which has no one to ask for a code. No route reaches it. Audited as the system; True when
    something was written (the same credentials again write nothing)."""
    current, stored = _load(tid, platform)
    changed = rules.changed_fields(platform, current, found)
    if stored is not None and not changed:
        return False
    sealed = get_cipher().encrypt(found.model_dump_json(), _context(tid, platform))
    store.put(tid, platform, sealed, iso(now), stored.version if stored else None)
    action = "platform.connect" if stored is None else "platform.update"
    audit.record(tid, audit.SYSTEM, action, platform, _audit_details(platform, found, changed), now)
    return True
