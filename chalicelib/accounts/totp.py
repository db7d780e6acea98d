"""TOTP for operators: enrolment, codes at login, and the step-up exports and unmasking need."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from chalicelib.accounts import audit
from chalicelib.accounts.store import totp as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Conflict, Forbidden
from chalicelib.core.rbac import Principal
from chalicelib.security import totp
from chalicelib.security.pii import get_cipher

# How long a TOTP login counts as a step-up; after that a sensitive call needs a fresh code.
STEP_UP_WINDOW = timedelta(minutes=15)
ENROL_PATH = "/v1/admin/operators/me/totp"
HEADER = "x-fission-totp"


def _context(tid: str, email: str) -> str:
    return f"operator:{tid}:{email}:totp"


def _secret(enrolment: store.Enrolment) -> str:
    return get_cipher().decrypt(enrolment.secret_enc, _context(enrolment.tid, enrolment.email))


def is_active(tid: str, email: str) -> bool:
    enrolment = store.get(tid, email)
    return enrolment is not None and enrolment.status == "active"


def enrol(actor: Principal, now: datetime) -> dict[str, Any]:
    """A new secret, pending until a code from it is confirmed. Restarting a pending enrolment
    replaces its secret; an active one stays until an owner removes the operator."""
    secret = totp.new_secret()
    sealed = get_cipher().encrypt(secret, _context(actor.tid, actor.email))
    if not store.put_pending(actor.tid, actor.email, sealed, iso(now)):
        raise Conflict("TOTP is already active for this operator", code=Code.TOTP_ALREADY_ACTIVE)
    return {
        "status": "pending",
        "secret": secret,
        "otpauth_uri": totp.provisioning_uri(secret, actor.email),
        "period": totp.STEP_SECONDS,
        "digits": totp.DIGITS,
    }


def confirm(actor: Principal, code: str, now: datetime) -> dict[str, Any]:
    enrolment = store.get(actor.tid, actor.email)
    if enrolment is None:
        raise Conflict(f"start an enrolment first: POST {ENROL_PATH}", code=Code.TOTP_NOT_ENROLLED)
    if enrolment.status == "active":
        raise Conflict("TOTP is already active for this operator", code=Code.TOTP_ALREADY_ACTIVE)
    step = totp.matching_step(_secret(enrolment), code, now)
    if step is None or not store.accept_step(actor.tid, actor.email, step, status="pending", activate_at=iso(now)):
        raise BadRequest("the code does not match; check the authenticator's clock", code=Code.TOTP_INVALID)
    audit.record(actor.tid, actor.email, "operator.totp_enable", actor.email, {}, now)
    return {"status": "active", "activated_at": iso(now)}


def use_code(tid: str, email: str, code: str, now: datetime) -> bool:
    """True if `code` is current for an active enrolment and was not used before (it is now)."""
    enrolment = store.get(tid, email)
    if enrolment is None or enrolment.status != "active":
        return False
    step = totp.matching_step(_secret(enrolment), code, now)
    return step is not None and store.accept_step(tid, email, step, status="active")


def require_step_up(actor: Principal, code: str | None, now: datetime) -> None:
    """Exports and unmasking: TOTP enrolled, and either a code on this request or a token whose
    TOTP login is younger than the window; otherwise 403 STEP_UP_REQUIRED.

    An API key has no second factor: it passes, because its owner proved a step-up when granting the
    scope that reaches such a route (`api_keys.create`, STEP_UP_SCOPES; docs/api-keys.md)."""
    if actor.api_key is not None:
        return
    if not is_active(actor.tid, actor.email):
        raise Forbidden(
            "this needs a TOTP step-up; enrol an authenticator first",
            code=Code.STEP_UP_REQUIRED,
            details={"reason": "not_enrolled", "enrol": f"POST {ENROL_PATH}"},
        )
    if code:
        if use_code(actor.tid, actor.email, code.strip(), now):
            return
        raise Forbidden(
            "the X-Fission-TOTP code is wrong or was already used",
            code=Code.STEP_UP_REQUIRED,
            details={"reason": "invalid_code"},
        )
    if actor.step_up_at is not None and now - actor.step_up_at <= STEP_UP_WINDOW:
        return
    raise Forbidden(
        "this needs a fresh TOTP step-up: send X-Fission-TOTP or log in again with `totp`",
        code=Code.STEP_UP_REQUIRED,
        details={"reason": "stale", "window_seconds": int(STEP_UP_WINDOW.total_seconds())},
    )
