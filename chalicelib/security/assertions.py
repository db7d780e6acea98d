"""Identity assertions: a compact JWT (HS256) in which a merchant's server, or Fission's own platform
login, vouches for a user (docs/identity.md).

The header names the key (`kid`); the claims are `iss` (the tenant, or `platform:{name}`), `sub` (the
user's id there), `aud` (`fission`), `iat` and `exp` at most 15 minutes later, and optional profile
claims. Every way an assertion can be wrong has its own 401 code, so a merchant's developer can tell
a clock problem from a key problem at a glance.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from chalicelib.core.codes import Code
from chalicelib.core.errors import Unauthorized

AUDIENCE = "fission"
ALGORITHM = "HS256"
MAX_LIFETIME_SECONDS = 15 * 60  # so an assertion that verifies is also fresh enough to prove a sensitive act
CLOCK_SKEW_SECONDS = 60
MAX_ASSERTION_BYTES = 4096
PROFILE_CLAIMS = ("nickname", "avatar_url", "phone", "email")
PLATFORM_ISSUER_PREFIX = "platform:"


@dataclass(frozen=True)
class Assertion:
    issuer: str
    subject: str
    issued_at: int
    expires_at: int
    key_id: str
    profile: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class KeySet:
    """The keys an issuer signs with: active ones verify, retired ones are recognised and refused."""

    active: Mapping[str, bytes]
    retired: frozenset[str] = frozenset()


def _refused(code: Code, message: str) -> Unauthorized:
    return Unauthorized(f"the identity assertion is refused: {message}", code=code)


def _header(token: str) -> dict[str, Any]:
    try:
        encoded = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    except (ValueError, binascii.Error, IndexError) as exc:
        raise _refused(Code.ASSERTION_MALFORMED, "not a compact JWT") from exc
    if not isinstance(header, dict):
        raise _refused(Code.ASSERTION_MALFORMED, "not a compact JWT")
    return header


def verify(token: str, issuer: str, keys: KeySet, now: datetime) -> Assertion:
    """The verified assertion `issuer` signed for one of its active keys, or 401 saying what is wrong."""
    import jwt  # PyJWT on first use, as for operator tokens

    if not token or len(token) > MAX_ASSERTION_BYTES or token.count(".") != 2:
        raise _refused(Code.ASSERTION_MALFORMED, "not a compact JWT")
    header = _header(token)
    # Checked before any key is touched: `none` and every other algorithm are refused outright, even
    # HS512 with the right key, so no algorithm-confusion trick can reach the verifier.
    if header.get("alg") != ALGORITHM:
        raise _refused(Code.ASSERTION_ALGORITHM, f"the algorithm must be {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _refused(Code.ASSERTION_KEY_UNKNOWN, "the header names no key (`kid`)")
    if kid in keys.retired:
        raise _refused(Code.ASSERTION_KEY_RETIRED, f"key {kid} is retired; sign with a current key")
    secret = keys.active.get(kid)
    if secret is None:
        raise _refused(Code.ASSERTION_KEY_UNKNOWN, f"no key {kid} for this issuer")
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_signature": True, "verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "verify_aud": False, "verify_iss": False},
        )  # fmt: skip
    except jwt.InvalidSignatureError as exc:
        raise _refused(Code.ASSERTION_SIGNATURE, "the signature does not match (tampered, or another key)") from exc
    except jwt.PyJWTError as exc:
        raise _refused(Code.ASSERTION_MALFORMED, "not a compact JWT") from exc
    return _checked(claims, issuer, kid, now)


def _checked(claims: Mapping[str, Any], issuer: str, kid: str, now: datetime) -> Assertion:
    """The claims' own rules, against the service clock (testable), not the library's."""
    if claims.get("iss") != issuer:
        raise _refused(Code.ASSERTION_ISSUER, "it was issued for another tenant")
    audience = claims.get("aud")
    if audience != AUDIENCE and not (isinstance(audience, list) and AUDIENCE in audience):
        raise _refused(Code.ASSERTION_AUDIENCE, f"the audience must be {AUDIENCE!r}")
    subject, issued, expires = claims.get("sub"), claims.get("iat"), claims.get("exp")
    if not isinstance(subject, str) or not 1 <= len(subject) <= 128:
        raise _refused(Code.ASSERTION_MALFORMED, "`sub` must be the user's id (1-128 characters)")
    if not isinstance(issued, int) or not isinstance(expires, int):
        raise _refused(Code.ASSERTION_MALFORMED, "`iat` and `exp` must be whole seconds")
    moment = int(now.timestamp())
    not_before = claims.get("nbf", issued)
    if not isinstance(not_before, int):
        raise _refused(Code.ASSERTION_MALFORMED, "`nbf` must be whole seconds")
    if max(issued, not_before) > moment + CLOCK_SKEW_SECONDS:
        raise _refused(Code.ASSERTION_NOT_YET_VALID, "it is not valid yet (is the signer's clock ahead?)")
    if expires - issued > MAX_LIFETIME_SECONDS:
        raise _refused(Code.ASSERTION_LIFETIME, f"it may live at most {MAX_LIFETIME_SECONDS} seconds")
    if expires <= moment:
        raise _refused(Code.ASSERTION_EXPIRED, "it has expired; sign a fresh one")
    profile = {name: str(claims[name]) for name in PROFILE_CLAIMS if isinstance(claims.get(name), str)}
    return Assertion(issuer, subject, issued, expires, kid, profile)


def sign(claims: Mapping[str, Any], key_id: str, secret: bytes) -> str:
    """An assertion signed as merchants sign them (Fission's platform logins, the local demo signer)."""
    import jwt  # PyJWT on first use, as for operator tokens

    return jwt.encode(dict(claims), secret, algorithm=ALGORITHM, headers={"kid": key_id})
