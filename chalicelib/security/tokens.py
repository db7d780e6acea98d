"""Signed, expiring operator bearer tokens (JWT, HS256)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from chalicelib.core.codes import Code
from chalicelib.core.errors import Unauthorized
from chalicelib.security.keyring import get_keyring

ISSUER = "fission"
AUDIENCE = "fission-admin"
CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class TokenClaims:
    tid: str
    email: str
    version: int
    expires_at: datetime
    # When the operator last proved a TOTP code (login with `totp`); None for password-only tokens.
    step_up_at: datetime | None = None


@lru_cache(maxsize=1)
def _signing_key() -> bytes:
    return get_keyring().secret("token")


def issue(
    tid: str, email: str, version: int, now: datetime, ttl_seconds: int, *, step_up_at: datetime | None = None
) -> tuple[str, datetime]:
    import jwt  # imported on first use: landing-page cold starts never need it

    expires = now + timedelta(seconds=ttl_seconds)
    claims: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": email,
        "tid": tid,
        "ver": version,
        "iat": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "amr": ["pwd"],
    }
    if step_up_at is not None:
        # RFC 8176 method names; `sua` is when the second factor was shown (step-up freshness).
        claims["amr"] = ["pwd", "otp"]
        claims["sua"] = int(step_up_at.timestamp())
    return jwt.encode(claims, _signing_key(), algorithm="HS256"), expires


def verify(token: str, now: datetime) -> TokenClaims:
    import jwt  # PyJWT on first use: landing-page cold starts never need it

    try:
        claims = jwt.decode(
            token,
            _signing_key(),
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "tid", "ver"], "verify_exp": False, "verify_iat": False},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("the bearer token is invalid", code=Code.INVALID_TOKEN) from exc
    # Time claims are checked against the service clock (testable), not the library's.
    if int(claims["iat"]) > int(now.timestamp()) + CLOCK_SKEW_SECONDS:
        raise Unauthorized("the bearer token is invalid", code=Code.INVALID_TOKEN)
    if int(claims["exp"]) <= int(now.timestamp()):
        raise Unauthorized("the bearer token has expired; log in again", code=Code.TOKEN_EXPIRED)
    return TokenClaims(
        tid=str(claims["tid"]),
        email=str(claims["sub"]),
        version=int(claims["ver"]),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), tz=now.tzinfo),
        step_up_at=datetime.fromtimestamp(int(claims["sua"]), tz=now.tzinfo) if "sua" in claims else None,
    )
