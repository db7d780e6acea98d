"""Webhook signatures: HMAC-SHA256 over `timestamp.body`, with a replay window (both directions)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from chalicelib.errors import Unauthorized

TIMESTAMP_HEADER = "X-Fission-Timestamp"
SIGNATURE_HEADER = "X-Fission-Signature"
REPLAY_WINDOW_SECONDS = 300
_SCHEME = "v1"


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{_SCHEME}={digest}"


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, now: int) -> None:
    """Raise unless the request is signed with `secret` within the replay window.

    `headers` must look names up case-insensitively (Chalice's request headers do).
    """
    stamp = headers.get(TIMESTAMP_HEADER.lower()) or ""
    signature = headers.get(SIGNATURE_HEADER.lower()) or ""
    if not stamp.isdigit() or not signature:
        raise Unauthorized(
            f"sign the request: {TIMESTAMP_HEADER} (unix seconds) and {SIGNATURE_HEADER}", code="SIGNATURE_REQUIRED"
        )
    if abs(now - int(stamp)) > REPLAY_WINDOW_SECONDS:
        raise Unauthorized(
            f"the timestamp is more than {REPLAY_WINDOW_SECONDS} s away from now; resend with a fresh one",
            code="STALE_TIMESTAMP",
        )
    expected = sign(secret, int(stamp), body)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise Unauthorized("the signature does not match the body", code="INVALID_SIGNATURE")
