"""The tenant's webhook signing secret: derived per tenant from one master key, rotated by version.

It verifies the merchant's inbound hooks and signs everything Fission sends out (outbound webhooks,
gateway and webhook messages). Nothing secret is stored per tenant: only the version number.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from chalicelib.accounts import audit, totp
from chalicelib.accounts.store import tenants as tenant_store
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


def signing_secret(tid: str) -> bytes:
    """The tenant's current webhook secret: verifies inbound hooks and signs outbound ones."""
    tenant = tenant_store.get_tenant(tid)
    version = int(tenant.hook_secret_version or 1) if tenant is not None else 1
    return _secret(tid, version)


def _view(actor: Principal) -> dict[str, Any]:
    tenant = tenant_store.get_tenant(actor.tid)
    if tenant is None:
        raise NotFound("no such tenant", code=Code.TENANT_NOT_FOUND)
    version = int(tenant.hook_secret_version or 1)
    return {
        "secret": _secret(actor.tid, version).hex(),
        "version": version,
        "algorithm": "HMAC-SHA256 over '{timestamp}.' + body, hex, sent as 'v1={hex}'",
        "headers": [signing.TIMESTAMP_HEADER, signing.SIGNATURE_HEADER],
        "replay_window_seconds": signing.REPLAY_WINDOW_SECONDS,
    }


def read(actor: Principal, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """The secret, after a fresh TOTP step-up: whoever holds it can forge the merchant's orders and follows."""
    totp.require_step_up(actor, totp_code, now)
    answer = _view(actor)
    audit.record(actor.tid, actor.email, "webhook_secret.read", actor.tid, {"version": answer["version"]}, now)
    return answer


def rotate(actor: Principal, totp_code: str | None, now: datetime) -> dict[str, Any]:
    """A new version (the old one stops verifying at once), shown in the answer; needs a fresh step-up."""
    totp.require_step_up(actor, totp_code, now)
    version = tenant_store.rotate_hook_secret(actor.tid)
    audit.record(actor.tid, actor.email, "webhook_secret.rotate", actor.tid, {"version": version}, now)
    return _view(actor)


def verified[M: BaseModel](tid: str, headers: Mapping[str, str], body: bytes, now: datetime, model: type[M]) -> M:
    """The parsed payload of a correctly signed, fresh request of tenant `tid`."""
    tenant = tenant_store.get_tenant(tid)
    if tenant is None:  # answered like a bad signature: the route does not reveal which tenants exist
        raise Unauthorized("the signature does not match the body", code=Code.INVALID_SIGNATURE)
    signing.verify(_secret(tid, int(tenant.hook_secret_version or 1)), headers, body, int(now.timestamp()))
    try:
        return model.model_validate(load_json(body or b"{}"))
    except ValidationError as exc:
        raise validation_error(exc) from exc
