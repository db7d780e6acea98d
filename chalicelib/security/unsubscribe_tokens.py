"""Unsubscribe tokens: the link at the end of a message proves who it was for and on which channel.

Format `u1.{tid}.{uid}.{channel}.{base64url HMAC-SHA256, first 16 bytes}`. No expiry: an unsubscribe link
must keep working for as long as the message is in someone's inbox, and all it can do is stop messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from chalicelib.security.keyring import get_keyring

_PREFIX = "u1"
_TAG_BYTES = 16
_PART = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_CHANNEL = re.compile(r"[a-z]{1,16}|\*")
MAX_LENGTH = 256


@dataclass(frozen=True)
class Unsubscribe:
    tid: str
    uid: str
    channel: str


def _key() -> bytes:
    return get_keyring().secret("unsubscribe-tokens")


def _tag(key: bytes, tid: str, uid: str, channel: str) -> str:
    digest = hmac.new(key, f"{_PREFIX}|{tid}|{uid}|{channel}".encode(), hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def issue(tid: str, uid: str, channel: str) -> str:
    if not (_PART.fullmatch(tid) and _PART.fullmatch(uid) and _CHANNEL.fullmatch(channel)):
        raise ValueError("an unsubscribe token needs a tenant id, a person id and a channel")
    return f"{_PREFIX}.{tid}.{uid}.{channel}.{_tag(_key(), tid, uid, channel)}"


def verify(token: str) -> Unsubscribe | None:
    """What a token unsubscribes, or None when it is malformed or not ours: never an error."""
    if len(token) > MAX_LENGTH:
        return None
    parts = token.split(".")
    if len(parts) != 5:
        return None
    prefix, tid, uid, channel, tag = parts
    if prefix != _PREFIX or not (_PART.fullmatch(tid) and _PART.fullmatch(uid) and _CHANNEL.fullmatch(channel)):
        return None
    expected = _tag(_key(), tid, uid, channel)
    if not hmac.compare_digest(tag.encode(), expected.encode()):
        return None
    return Unsubscribe(tid=tid, uid=uid, channel=channel)
