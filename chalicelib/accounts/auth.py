"""Operator login and bearer-token authentication.

Login is guessable, so it runs under limits (`lockout`): per email, known or not, and per client
address; a locked subject gets 429 LOGIN_LOCKED before its password is looked at. For an operator with
TOTP, a wrong password, a missing code and a wrong code answer the same 401, so a refusal never tells
a guesser that the password was right.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.accounts import audit, lockout, totp
from chalicelib.accounts.rules.lockout import Scope
from chalicelib.accounts.rules.operators import LoginRequest, Operator, normalize_email
from chalicelib.accounts.store import tenants as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import TooManyRequests, Unauthorized
from chalicelib.core.observability import logger, metrics
from chalicelib.core.rbac import Principal
from chalicelib.security import passwords, tokens

WRONG = "wrong email, password or TOTP code"
# Looked up for an unknown email, so that a miss reads the table as a known one does; no tenant has this id.
NO_TENANT = "-"


def _refuse(
    subjects: dict[Scope, str],
    operator: Operator | None,
    error: Unauthorized,
    action: str,
    details: dict[str, Any],
    now: datetime,
) -> Unauthorized:
    """Count a failed login against its email and address, audit it for a known operator (the reason,
    never the password or code), and hand back the error."""
    failures = {scope: lockout.fail(scope, hashed, now) for scope, hashed in subjects.items()}
    metrics.add_metric(name="LoginFailures", unit=MetricUnit.Count, value=1)
    locks = {scope.value: f.locked_seconds for scope, f in failures.items() if f.locked_seconds}
    if locks:
        metrics.add_metric(name="LoginLockouts", unit=MetricUnit.Count, value=1)
        logger.warning("login locked", locks=locks, tenant_id=operator.tid if operator else None)
    if operator is not None:
        account = failures[Scope.ACCOUNT].locked_seconds
        extra = {"locked_seconds": account} if account else {}
        audit.record(operator.tid, operator.email, action, operator.email, {**details, **extra}, now)
    # An unknown email has no tenant to file it under: it is counted and locked, not audited.
    return error


def login(request: LoginRequest, now: datetime, address: str | None = None) -> dict[str, Any]:
    """A token for email + password (+ a TOTP code once enrolled). `address` is the client's, for its limit."""
    email = normalize_email(request.email)
    subjects = {Scope.ACCOUNT: lockout.subject(Scope.ACCOUNT, email)}
    if address:
        subjects[Scope.ADDRESS] = lockout.subject(Scope.ADDRESS, address)
    streaks = lockout.status(subjects, now)
    locked = lockout.longest_lock(streaks, now)
    if locked is not None:
        scope, seconds = locked
        metrics.add_metric(name="LoginLocked", unit=MetricUnit.Count, value=1)
        raise TooManyRequests(
            f"too many failed sign-ins; retry in {seconds} s",
            code=Code.LOGIN_LOCKED,
            retry_after=seconds,
            details={"scope": scope.value},
        )
    wrong = Unauthorized(WRONG, code=Code.INVALID_CREDENTIALS)
    # The same reads whether or not the email is known, so the answer takes as long either way.
    tid = store.tenant_of_login(email) or NO_TENANT
    operator = store.get_operator(tid, email)
    enrolled = totp.is_active(tid, email)
    if operator is None:
        passwords.burn_time(request.password)  # a miss costs what a wrong password costs
        raise _refuse(subjects, None, wrong, "login.failure", {}, now)
    password_ok = passwords.verify_password(operator.password_hash, request.password)
    if not password_ok:
        if enrolled:
            totp.try_code(operator.tid, operator.email, request.totp, now, counted=False)
        raise _refuse(subjects, operator, wrong, "login.failure", {"reason": Code.INVALID_CREDENTIALS}, now)
    if operator.disabled:
        disabled = Unauthorized("this operator is disabled; ask an owner", code=Code.OPERATOR_DISABLED)
        raise _refuse(subjects, operator, disabled, "login.failure", {"reason": Code.OPERATOR_DISABLED}, now)
    step_up_at = None
    if enrolled:
        refusal = totp.try_code(operator.tid, operator.email, request.totp, now)
        if refusal is not None:
            raise _refuse(subjects, operator, wrong, "login.totp_failed", refusal.details(), now)
        step_up_at = now
    if Scope.ACCOUNT in streaks:
        lockout.clear(Scope.ACCOUNT, subjects[Scope.ACCOUNT])  # the address keeps its count: see docs/operations.md
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
