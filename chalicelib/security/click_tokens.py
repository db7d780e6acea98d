"""Click tokens: proof that a short link was opened, by whom it was shared and when.

The landing page keeps the tokens it is sent and hands them back on join, so attribution can
trust a click's inviter and time without storing or querying anything: the server signed them.
Format `c1.{code}.{epoch seconds}.{base64url HMAC-SHA256, first 16 bytes}` (about 45 characters):
a 128-bit tag is plenty for a token worth one invite credit, and it keeps the redirect URL short.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from chalicelib.security.keyring import get_keyring

_PREFIX = "c1"
_TAG_BYTES = 16
_CODE = re.compile(r"[0-9a-hjkmnp-tv-z]{8}")  # an invite code (referral.rules.participants.CODE_PATTERN)
_TIME = re.compile(r"[1-9][0-9]{0,10}")  # epoch seconds, no leading zeros: one spelling per click
MAX_LENGTH = 64


@dataclass(frozen=True)
class Click:
    code: str
    at: int  # epoch seconds


def _key() -> bytes:
    # Not cached here, like the participant-codes secret: the KMS keyring caches per container.
    return get_keyring().secret("click-tokens")


def _tag(key: bytes, code: str, at: str) -> str:
    digest = hmac.new(key, f"{_PREFIX}.{code}.{at}".encode(), hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(code: str, at: int) -> str:
    """A token for a click on `code`'s link at `at` (epoch seconds)."""
    if not _CODE.fullmatch(code) or not _TIME.fullmatch(str(at)):
        raise ValueError("a click token needs an invite code and a positive epoch second")
    return f"{_PREFIX}.{code}.{at}.{_tag(_key(), code, str(at))}"


def verify(token: str) -> Click | None:
    """The click a token proves, or None when it is malformed or not ours: never an error."""
    if len(token) > MAX_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 4:
        return None
    prefix, code, at, tag = parts
    expected = _tag(_key(), code, at)
    # Compared as bytes in constant time: non-ASCII input is merely invalid.
    if not hmac.compare_digest(tag.encode(), expected.encode()):
        return None
    if prefix != _PREFIX or not _CODE.fullmatch(code) or not _TIME.fullmatch(at):
        return None
    return Click(code=code, at=int(at))
