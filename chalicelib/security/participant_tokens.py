"""Participant tokens: a landing page proves which participant it speaks for (HMAC, no library)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from chalicelib.core.codes import Code
from chalicelib.core.errors import Forbidden, Unauthorized
from chalicelib.security.keyring import get_keyring

_PREFIX = "pt1"


@dataclass(frozen=True)
class ParticipantClaims:
    cid: str
    code: str
    version: int = 0  # the participant's token version when issued: a later version revokes it


@lru_cache(maxsize=1)
def _key() -> bytes:
    return get_keyring().secret("participant-token")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue(cid: str, code: str, expires_at: datetime, version: int = 0) -> str:
    claims: dict[str, object] = {"c": cid, "p": code, "e": int(expires_at.timestamp())}
    if version:
        claims["v"] = version
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(_key(), f"{_PREFIX}.{body}".encode(), hashlib.sha256).digest())
    return f"{_PREFIX}.{body}.{signature}"


def verify(token: str, now: datetime) -> ParticipantClaims:
    invalid = Unauthorized("the participant token is invalid", code=Code.INVALID_PARTICIPANT_TOKEN)
    prefix, _, rest = token.partition(".")
    body, _, signature = rest.partition(".")
    expected = _b64(hmac.new(_key(), f"{prefix}.{body}".encode(), hashlib.sha256).digest())
    # Compared as bytes: a token with non-ASCII characters is just invalid, never an error.
    if prefix != _PREFIX or not hmac.compare_digest(signature.encode(), expected.encode()):
        raise invalid
    try:
        claims = json.loads(_unb64(body))
        cid, code, expires = str(claims["c"]), str(claims["p"]), int(claims["e"])
        version = int(claims.get("v", 0))
    except (ValueError, KeyError, TypeError) as exc:  # signed by us, so only a key change gets here
        raise invalid from exc
    if expires <= int(now.timestamp()):
        raise Unauthorized("the participant token has expired; join again", code=Code.PARTICIPANT_TOKEN_EXPIRED)
    return ParticipantClaims(cid=cid, code=code, version=version)


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, or None when there is none."""
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def from_header(authorization: str | None, now: datetime) -> ParticipantClaims:
    """The verified claims of the header's participant token; 403 when the header carries none."""
    token = bearer(authorization)
    if token is None:
        raise Forbidden("this call needs the participant token from the join", code=Code.PARTICIPANT_TOKEN_REQUIRED)
    return verify(token, now)
