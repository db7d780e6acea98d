"""Webhook signatures: HMAC-SHA256 over `timestamp.body`, with a replay window (both directions)."""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import Mapping

from chalicelib.core.codes import Code
from chalicelib.core.errors import Unauthorized
from chalicelib.security import egress

TIMESTAMP_HEADER = "X-Fission-Timestamp"
SIGNATURE_HEADER = "X-Fission-Signature"
REPLAY_WINDOW_SECONDS = 300
_SCHEME = "v1"
# Unix seconds have 10 digits until the year 2286; a longer "number" is no timestamp.
_MAX_STAMP_DIGITS = 12


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{_SCHEME}={digest}"


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, now: int) -> None:
    """Raise unless the request is signed with `secret` within the replay window.

    `headers` must look names up case-insensitively (Chalice's request headers do).
    """
    stamp = headers.get(TIMESTAMP_HEADER.lower()) or ""
    signature = headers.get(SIGNATURE_HEADER.lower()) or ""
    # ASCII digits only: str.isdigit() also accepts "²" and "٣", which int() refuses or reads differently.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_STAMP_DIGITS) or not signature:
        raise Unauthorized(
            f"sign the request: {TIMESTAMP_HEADER} (unix seconds) and {SIGNATURE_HEADER}", code=Code.SIGNATURE_REQUIRED
        )
    if abs(now - int(stamp)) > REPLAY_WINDOW_SECONDS:
        raise Unauthorized(
            f"the timestamp is more than {REPLAY_WINDOW_SECONDS} s away from now; resend with a fresh one",
            code=Code.STALE_TIMESTAMP,
        )
    expected = sign(secret, int(stamp), body)
    if not hmac.compare_digest(signature.encode("utf-8", "replace"), expected.encode()):
        raise Unauthorized("the signature does not match the body", code=Code.INVALID_SIGNATURE)


def post_signed(
    url: str,
    body: bytes,
    secret: bytes,
    timestamp: int,
    headers: Mapping[str, str],
    *,
    timeout: float,
    allow_private: bool,
) -> None:
    """POST JSON signed with `secret` through the egress guard; raise unless the answer is 2xx.

    Raises `egress.EgressRefused` for a URL that may not be reached, `urllib.error.HTTPError` for a non-2xx
    answer and `urllib.error.URLError` / `OSError` when nothing answered. Outbound webhooks and the
    message channels share it, so both are signed and guarded the same way."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            **headers,
        },
    )
    # Checked again on every request: DNS may point somewhere else than when the URL was registered.
    with egress.open_url(request, timeout, allow_private) as response:
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "not 2xx", response.headers, None)
