"""The tenant's webhook signing secret: derived per tenant from one master key, rotated by version.

It verifies the merchant's inbound hooks and signs everything Fission sends out (outbound webhooks,
gateway and webhook messages). Nothing secret is stored per tenant: only the version number and when it moved.
The same 32 key bytes are shown two ways (docs/webhooks.md): hex (`secret`, inbound hooks and the deprecated
`X-Fission-Signature`) and `whsec_` + base64 (`standard_webhooks_secret`, Standard Webhooks receivers).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError

from chalicelib.accounts import audit, totp
from chalicelib.accounts.store import tenants as tenant_store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import NotFound, Unauthorized
from chalicelib.core.rbac import Principal
from chalicelib.core.validation import validation_error
from chalicelib.http.inputs import load_json
from chalicelib.security import signing
from chalicelib.security.keyring import get_keyring


def _secret(tid: str, version: int) -> bytes:
    """Per-tenant secrets derived from one master key: nothing secret is stored per tenant."""
    return hmac.new(get_keyring().secret("webhooks"), f"{tid}:{version}".encode(), hashlib.sha256).digest()


ROTATION_OVERLAP = timedelta(hours=24)


def _previous_until(version: int, rotated_at: float | None) -> datetime | None:
    """Until when the previous version still signs outbound deliveries, or None without a previous version."""
    if version < 2 or rotated_at is None:
        return None
    return datetime.fromtimestamp(int(rotated_at), UTC) + ROTATION_OVERLAP


def signing_keys(tid: str, now: datetime) -> signing.SigningKeys:
    """The keys outbound deliveries are signed with: the current version, and for `ROTATION_OVERLAP` after a
    rotation the previous one too, so a receiver that still holds it keeps verifying while it switches over."""
    tenant = tenant_store.get_tenant(tid)
    if tenant is None:
        return signing.SigningKeys(_secret(tid, 1))
    version = int(tenant.hook_secret_version or 1)
    until = _previous_until(version, tenant.hook_secret_rotated_at)
    previous = (_secret(tid, version - 1),) if until is not None and now < until else ()
    return signing.SigningKeys(_secret(tid, version), previous)


def _view(actor: Principal, now: datetime) -> dict[str, Any]:
    tenant = tenant_store.get_tenant(actor.tid)
    if tenant is None:
        raise NotFound("no such tenant", code=Code.TENANT_NOT_FOUND)
    version = int(tenant.hook_secret_version or 1)
    key = _secret(actor.tid, version)
    until = _previous_until(version, tenant.hook_secret_rotated_at)
    return {
        "secret": key.hex(),
        "version": version,
        "algorithm": "HMAC-SHA256 over '{timestamp}.' + body, hex, sent as 'v1={hex}'",
        "headers": [signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER],
        "replay_window_seconds": signing.REPLAY_WINDOW_SECONDS,
        # The same key bytes for outbound deliveries' Standard Webhooks signatures.
        "standard_webhooks_secret": signing.standard_secret(key),
        "previous_signs_until": iso(until) if until is not None and now < until else None,
    }


def read(actor: Principal, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """The secret, after a fresh TOTP step-up: whoever holds it can forge the merchant's orders and follows."""
    totp.require_step_up(actor, totp_code, now)
    answer = _view(actor, now)
    audit.record(actor.tid, actor.email, "webhook_secret.read", actor.tid, {"version": answer["version"]}, now)
    return answer


def rotate(actor: Principal, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """A new version, shown in the answer; needs a fresh step-up. Inbound hooks signed with the old one are refused
    at once; outbound deliveries carry a signature with the old one too for `ROTATION_OVERLAP`."""
    totp.require_step_up(actor, totp_code, now)
    version = tenant_store.rotate_hook_secret(actor.tid, int(now.timestamp()))
    audit.record(actor.tid, actor.email, "webhook_secret.rotate", actor.tid, {"version": version}, now)
    return _view(actor, now)


def verified[M: BaseModel](tid: str, headers: Mapping[str, str], body: bytes, now: datetime, model: type[M]) -> M:
    """The parsed payload of a correctly signed, fresh request of tenant `tid`."""
    tenant = tenant_store.get_tenant(tid)
    if tenant is None:  # answered like a bad signature: the route does not reveal which tenants exist
        raise Unauthorized("the signature does not match the body", code=Code.INVALID_SIGNATURE)
    key = _secret(tid, int(tenant.hook_secret_version or 1))
    signing.verify(key, headers, body, int(now.timestamp()), secret_text=key.hex())
    try:
        return model.model_validate(load_json(body or b"{}"))
    except ValidationError as exc:
        raise validation_error(exc) from exc
