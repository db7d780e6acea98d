"""Webhook signatures: Standard Webhooks 1.0 and `X-Fission-*` going out, `X-Fission-*` coming in (docs/webhooks.md)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.core.codes import Code
from chalicelib.core.errors import Unauthorized
from chalicelib.security import egress

TIMESTAMP_HEADER = "X-Fission-Timestamp"
SIGNATURE_HEADER = "X-Fission-Signature"
# Standard Webhooks 1.0 (https://www.standardwebhooks.com): what every outbound delivery carries.
WEBHOOK_ID_HEADER = "webhook-id"
WEBHOOK_TIMESTAMP_HEADER = "webhook-timestamp"
WEBHOOK_SIGNATURE_HEADER = "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"
REPLAY_WINDOW_SECONDS = 300
_SCHEME = "v1"
# Unix seconds have 10 digits until the year 2286; a longer "number" is no timestamp.
_MAX_STAMP_DIGITS = 12
TEXT_KEYED_HINT = (
    "the signature does not match the body: it is keyed with the secret's text; "
    "key the HMAC with the bytes the hex secret decodes to"
)


@dataclass(frozen=True)
class SigningKeys:
    """The keys an outbound delivery is signed with: the current one, and during a rotation's overlap the ones
    receivers may still hold (each adds a signature to `webhook-signature`)."""

    current: bytes
    previous: tuple[bytes, ...] = ()


def standard_secret(key: bytes) -> str:
    """A key as Standard Webhooks serialises it: `whsec_` + base64 of the key bytes."""
    return STANDARD_SECRET_PREFIX + base64.b64encode(key).decode()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{_SCHEME}={digest}"


def standard_signature(keys: SigningKeys, msg_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature`: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` per key, space separated."""
    if "." in msg_id:  # the spec's rule: a dot in the id would let one signed content pass for another
        raise ValueError("a webhook id may not contain '.'")
    content = f"{msg_id}.{timestamp}.".encode() + body
    return " ".join(
        f"v1,{base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()}"
        for key in (keys.current, *keys.previous)
    )


def verify(secret: bytes, headers: Mapping[str, str], body: bytes, now: int, *, secret_text: str | None = None) -> None:
    """Raise unless the request is signed with `secret` within the replay window.

    `headers` must look names up case-insensitively (Chalice's request headers do). `secret_text` is the secret
    as people are shown it: a fresh request whose HMAC is keyed with those characters instead of the bytes they
    encode is refused all the same, with a hint (whoever computed it holds the secret, so the hint tells them
    nothing new)."""
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
    given = signature.encode("utf-8", "replace")
    if hmac.compare_digest(given, sign(secret, int(stamp), body).encode()):
        return
    if secret_text is not None and hmac.compare_digest(given, sign(secret_text.encode(), int(stamp), body).encode()):
        raise Unauthorized(TEXT_KEYED_HINT, code=Code.INVALID_SIGNATURE)
    raise Unauthorized("the signature does not match the body", code=Code.INVALID_SIGNATURE)


def _signed_request(
    url: str, body: bytes, keys: SigningKeys, timestamp: int, msg_id: str, headers: Mapping[str, str]
) -> urllib.request.Request:
    """A JSON POST carrying the Standard Webhooks headers signed with every key in `keys`, plus `headers`."""
    return urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            WEBHOOK_ID_HEADER: msg_id,
            WEBHOOK_TIMESTAMP_HEADER: str(timestamp),
            WEBHOOK_SIGNATURE_HEADER: standard_signature(keys, msg_id, timestamp, body),
            **headers,
        },
    )


def post_signed(
    url: str,
    body: bytes,
    keys: SigningKeys,
    timestamp: int,
    msg_id: str,
    headers: Mapping[str, str],
    *,
    timeout: float,
    allow_private: bool,
) -> None:
    """POST JSON signed with the tenant's keys through the egress guard; raise unless the answer is 2xx.

    Signed twice over: Standard Webhooks 1.0 (`webhook-id` = `msg_id`, stable across retries; `webhook-timestamp`
    = this attempt; `webhook-signature` with every key in `keys`), and the deprecated `X-Fission-Timestamp` /
    `X-Fission-Signature` with the current key alone.

    Raises `egress.EgressRefused` for a URL that may not be reached, `urllib.error.HTTPError` for a non-2xx
    answer and `urllib.error.URLError` / `OSError` when nothing answered. Outbound webhooks and the
    message channels share it, so both are signed and guarded the same way."""
    deprecated = {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(keys.current, timestamp, body)}
    request = _signed_request(url, body, keys, timestamp, msg_id, {**deprecated, **headers})
    # Checked again on every request: DNS may point somewhere else than when the URL was registered.
    with egress.open_url(request, timeout, allow_private) as response:
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "not 2xx", response.headers, None)


def post_signed_for_answer(
    url: str,
    body: bytes,
    keys: SigningKeys,
    timestamp: int,
    msg_id: str,
    *,
    timeout: float,
    allow_private: bool,
    max_answer: int = 4096,
) -> tuple[int, bytes]:
    """POST JSON signed as `post_signed` signs it (Standard Webhooks headers with the tenant's keys, through the egress
    guard) and return the answer's status and the first `max_answer` bytes of its body, whatever the status: the
    caller reads a refusal's reason from it (the merchant's reward validation, docs/rewards-veto.md).

    Raises `egress.EgressRefused` for a URL that may not be reached and `urllib.error.URLError` / `OSError` when
    nothing answered in time."""
    request = _signed_request(url, body, keys, timestamp, msg_id, {})
    try:
        with egress.open_url(request, timeout, allow_private) as response:
            return response.status, response.read(max_answer)
    except urllib.error.HTTPError as exc:  # a non-2xx answer is an answer here
        try:
            return exc.code, exc.read(max_answer)
        finally:
            exc.close()
