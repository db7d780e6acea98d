"""Time-based one-time passwords (RFC 6238): 30-second steps, 6 digits, one step of drift either way."""

from __future__ import annotations

import hmac
from datetime import datetime

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
ISSUER = "Fission"


def new_secret() -> str:
    import pyotp  # first use only: landing-page cold starts never need it

    return pyotp.random_base32()


def provisioning_uri(secret: str, account: str) -> str:
    """The otpauth:// URI an authenticator app reads (usually as a QR code)."""
    import pyotp  # first use only: landing-page cold starts never need it

    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=ISSUER)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step `code` belongs to, within the allowed drift; None if it matches none.

    The caller refuses a step at or before the last one it accepted, so a code works once."""
    import pyotp  # first use only: landing-page cold starts never need it

    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = time_step(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def code_at(secret: str, now: datetime) -> str:
    """The code an authenticator shows at `now` (tests and the local demo)."""
    import pyotp  # first use only: landing-page cold starts never need it

    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(now)
