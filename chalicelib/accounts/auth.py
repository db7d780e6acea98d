"""Operator login and bearer-token authentication."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.accounts import audit, totp
from chalicelib.accounts.rules.operators import LoginRequest, normalize_email
from chalicelib.accounts.store import tenants as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Unauthorized
from chalicelib.core.rbac import Principal
from chalicelib.security import passwords, tokens


def _refuse(tid: str, email: str, error: Unauthorized, now: datetime) -> Unauthorized:
    """Record a failed login (the reason, never the password or code) and hand back the error."""
    audit.record(tid, email, "login.failure", email, {"reason": error.code}, now)
    return error


def login(request: LoginRequest, now: datetime) -> dict[str, Any]:
    email = normalize_email(request.email)
    tid = store.tenant_of_login(email)
    operator = store.get_operator(tid, email) if tid else None
    if operator is None:
        passwords.burn_time(request.password)
        # No tenant to file it under: an unknown email is logged, not audited.
        raise Unauthorized("wrong email or password", code=Code.INVALID_CREDENTIALS)
    if not passwords.verify_password(operator.password_hash, request.password):
        raise _refuse(operator.tid, email, Unauthorized("wrong email or password", code=Code.INVALID_CREDENTIALS), now)
    if operator.disabled:
        raise _refuse(
            operator.tid,
            email,
            Unauthorized("this operator is disabled; ask an owner", code=Code.OPERATOR_DISABLED),
            now,
        )
    step_up_at = None
    if totp.is_active(operator.tid, operator.email):
        if not request.totp:
            raise _refuse(
                operator.tid, email, Unauthorized("this operator must send a TOTP code", code=Code.TOTP_REQUIRED), now
            )
        if not totp.use_code(operator.tid, operator.email, request.totp, now):
            wrong = Unauthorized("the TOTP code is wrong or was already used", code=Code.TOTP_INVALID)
            raise _refuse(operator.tid, email, wrong, now)
        step_up_at = now
    token, expires = tokens.issue(
        operator.tid,
        operator.email,
        operator.token_version,
        now,
        get_settings().token_ttl_seconds,
        step_up_at=step_up_at,
    )
    audit.record(operator.tid, operator.email, "login.success", operator.email, {"totp": step_up_at is not None}, now)
    return {
        "token": token,
        "token_type": "Bearer",
        "expires_at": iso(expires),
        "tenant_id": operator.tid,
        "email": operator.email,
        "role": operator.role.value,
    }


def authenticate(authorization: str | None, now: datetime) -> Principal:
    """The operator behind a bearer token, as they are now (role changes apply at once)."""
    if not authorization:
        raise Unauthorized("this call needs an operator bearer token", code=Code.UNAUTHORIZED)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'", code=Code.UNAUTHORIZED)
    claims = tokens.verify(token.strip(), now)
    operator = store.get_operator(claims.tid, claims.email)
    if operator is None or operator.disabled or operator.token_version != claims.version:
        raise Unauthorized("this token was revoked; log in again", code=Code.TOKEN_REVOKED)
    return Principal(tid=operator.tid, email=operator.email, role=operator.role, step_up_at=claims.step_up_at)
