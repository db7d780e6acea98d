"""TOTP for operators: enrolment, codes at login, and the step-up exports and unmasking need.

Codes are guessable (1 in 10^6 a try), so every check runs under the operator's guessing limit
(`lockout`, Scope.TOTP: 5 wrong codes in 15 minutes lock both login and step-up codes)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.accounts import audit, lockout
from chalicelib.accounts.rules.lockout import Scope
from chalicelib.accounts.store import totp as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest, Conflict, Forbidden, TooManyRequests
from chalicelib.core.observability import logger, metrics
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


# The QR code of the otpauth URI, drawn by the posters' encoder, which sits above this slice: it plugs
# in at start (the entry points' wiring). Without it the enrolment answers the URI alone.
QrRenderer = Callable[[str], str]
_qr: list[QrRenderer] = []


def use_qr(render: QrRenderer) -> None:
    """`render(text)` answers an SVG document of the QR code of `text`."""
    _qr[:] = [render]


def enrol(actor: Principal, now: datetime) -> dict[str, Any]:
    """A new secret, pending until a code from it is confirmed. Restarting a pending enrolment
    replaces its secret; an active one stays until an owner removes the operator."""
    secret = totp.new_secret()
    sealed = get_cipher().encrypt(secret, _context(actor.tid, actor.email))
    if not store.put_pending(actor.tid, actor.email, sealed, iso(now)):
        raise Conflict("TOTP is already active for this operator", code=Code.TOTP_ALREADY_ACTIVE)
    # Who started (or restarted) an enrolment, never the secret: a hijacked session binding its own
    # authenticator shows up in the trail before the confirmation does.
    audit.record(actor.tid, actor.email, "operator.totp_enrol", actor.email, {"status": "pending"}, now)
    uri = totp.provisioning_uri(secret, actor.email)
    return {
        "status": "pending",
        "secret": secret,
        "otpauth_uri": uri,
        # What an authenticator app scans; the URI and the secret stay for typing in by hand.
        "qr_svg": _qr[0](uri) if _qr else None,
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
    """True if `code` is current for an active enrolment and was not used before (it is now).
    No guessing limit here: callers go through `try_code`."""
    enrolment = store.get(tid, email)
    if enrolment is None or enrolment.status != "active":
        return False
    step = totp.matching_step(_secret(enrolment), code, now)
    return step is not None and store.accept_step(tid, email, step, status="active")


@dataclass(frozen=True)
class Refusal:
    """Why a code was not accepted: `missing`, `invalid_code` (wrong, replayed or out of drift) or
    `locked`; with the seconds until a lock ends, and the lock this failure started (0 s: none)."""

    reason: str
    retry_after: int = 0
    locked_seconds: int = 0

    def details(self) -> dict[str, Any]:
        """What the audit trail records: the reason, and a lock this failure started."""
        locked = {"totp_locked_seconds": self.locked_seconds} if self.locked_seconds else {}
        return {"reason": self.reason, **locked}


def try_code(tid: str, email: str, code: str | None, now: datetime, *, counted: bool = True) -> Refusal | None:
    """Accept `code` for an active enrolment under the operator's guessing limit; None when accepted.

    A locked operator's code is not even looked at. A wrong code counts towards the lock; a right one
    forgets the failures before it. With `counted=False` (a login whose password was wrong) the same
    reads and checks run, so the answer takes as long, but nothing is written and nothing is accepted."""
    if not code:
        return Refusal("missing")
    hashed = lockout.subject(Scope.TOTP, f"{tid}:{email}")
    streak = lockout.status({Scope.TOTP: hashed}, now)
    locked = lockout.longest_lock(streak, now)
    if locked is not None:
        if counted:
            _count_refusal(tid, "locked")
        return Refusal("locked", retry_after=locked[1])
    if not counted:
        enrolment = store.get(tid, email)
        if enrolment is not None:
            totp.matching_step(_secret(enrolment), code, now)
        return Refusal("not_checked")
    if use_code(tid, email, code, now):
        if streak:
            lockout.clear(Scope.TOTP, hashed)
        return None
    failure = lockout.fail(Scope.TOTP, hashed, now)
    _count_refusal(tid, "invalid_code", failure)
    return Refusal("invalid_code", locked_seconds=failure.locked_seconds)


def _count_refusal(tid: str, reason: str, failure: lockout.Failure | None = None) -> None:
    """One metric per refused code and per lock: the alarms in infra/ key on them (docs/operations.md)."""
    metrics.add_metric(name="TotpFailures", unit=MetricUnit.Count, value=1)
    logger.warning(
        "totp code refused",
        tenant_id=tid,
        reason=reason,
        failures=failure.failures if failure else None,
        locked_seconds=failure.locked_seconds if failure else None,
    )
    if failure is not None and failure.locked_seconds:
        metrics.add_metric(name="TotpLockouts", unit=MetricUnit.Count, value=1)


def require_step_up(actor: Principal, code: str | None, now: datetime) -> None:
    """Exports and unmasking: TOTP enrolled, and either a code on this request or a token whose
    TOTP login is younger than the window; otherwise 403 STEP_UP_REQUIRED. A code sent while the
    operator's codes are locked is refused unseen: 429 TOTP_LOCKED with Retry-After. Every refusal is
    audited as `step_up.failed` with its reason.

    An API key has no second factor: it passes, because its owner proved a step-up when granting the
    scope that reaches such a route (`api_keys.create`, STEP_UP_SCOPES; docs/api-keys.md)."""
    if actor.api_key is not None:
        return
    if not is_active(actor.tid, actor.email):
        _refused(actor, {"reason": "not_enrolled"}, now)
        raise Forbidden(
            "this needs a TOTP step-up; enrol an authenticator first",
            code=Code.STEP_UP_REQUIRED,
            details={"reason": "not_enrolled", "enrol": f"POST {ENROL_PATH}"},
        )
    if code:
        refusal = try_code(actor.tid, actor.email, code.strip(), now)
        if refusal is None:
            return
        _refused(actor, refusal.details(), now)
        if refusal.reason == "locked":
            raise TooManyRequests(
                f"too many wrong TOTP codes; retry in {refusal.retry_after} s",
                code=Code.TOTP_LOCKED,
                retry_after=refusal.retry_after,
            )
        raise Forbidden(
            "the X-Fission-TOTP code is wrong or was already used",
            code=Code.STEP_UP_REQUIRED,
            details={"reason": "invalid_code"},
        )
    if actor.step_up_at is not None and now - actor.step_up_at <= STEP_UP_WINDOW:
        return
    _refused(actor, {"reason": "stale"}, now)
    raise Forbidden(
        "this needs a fresh TOTP step-up: send X-Fission-TOTP or log in again with `totp`",
        code=Code.STEP_UP_REQUIRED,
        details={"reason": "stale", "window_seconds": int(STEP_UP_WINDOW.total_seconds())},
    )


def _refused(actor: Principal, details: dict[str, Any], now: datetime) -> None:
    audit.record(actor.tid, actor.email, "step_up.failed", actor.email, details, now)
