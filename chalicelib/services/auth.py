"""Operator login and bearer-token authentication."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.config import get_settings
from chalicelib.domain.clock import iso
from chalicelib.domain.operators import LoginRequest, Principal, normalize_email
from chalicelib.errors import Unauthorized
from chalicelib.security import passwords, tokens
from chalicelib.store import tenants as store


def login(request: LoginRequest, now: datetime) -> dict[str, Any]:
    email = normalize_email(request.email)
    tid = store.tenant_of_login(email)
    operator = store.get_operator(tid, email) if tid else None
    if operator is None:
        passwords.burn_time(request.password)
        raise Unauthorized("wrong email or password", code="INVALID_CREDENTIALS")
    if not passwords.verify_password(operator.password_hash, request.password):
        raise Unauthorized("wrong email or password", code="INVALID_CREDENTIALS")
    if operator.disabled:
        raise Unauthorized("this operator is disabled; ask an owner", code="OPERATOR_DISABLED")
    token, expires = tokens.issue(
        operator.tid, operator.email, operator.token_version, now, get_settings().token_ttl_seconds
    )
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
        raise Unauthorized("this call needs an operator bearer token", code="UNAUTHORIZED")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use 'Authorization: Bearer <token>'", code="UNAUTHORIZED")
    claims = tokens.verify(token.strip(), now)
    operator = store.get_operator(claims.tid, claims.email)
    if operator is None or operator.disabled or operator.token_version != claims.version:
        raise Unauthorized("this token was revoked; log in again", code="TOKEN_REVOKED")
    return Principal(tid=operator.tid, email=operator.email, role=operator.role)
