"""PII at rest: AES-256-GCM ciphertext plus a keyed hash (blind index) for lookup and dedup."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from functools import lru_cache

from chalicelib.security.keyring import get_keyring

_VERSION = "v1"
_NONCE_BYTES = 12


class PiiCipher:
    """Encrypts one field at a time. The associated data binds a ciphertext to its field and owner,
    so a value copied onto another record or field fails to decrypt instead of leaking."""

    def __init__(self, key: bytes) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # first use only: cold starts skip it

        self._aead = AESGCM(key)
        # A separate key for hashing, so the blind index reveals nothing about the cipher key.
        self._hash_key = hmac.new(key, b"fission/pii/blind-index", hashlib.sha256).digest()

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return f"{_VERSION}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str, context: str) -> str:
        version, _, body = token.partition(".")
        if version != _VERSION:
            raise ValueError(f"unknown PII ciphertext version {version!r}")
        raw = base64.urlsafe_b64decode(body)
        return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], context.encode()).decode()

    def blind_index(self, value: str, purpose: str) -> str:
        digest = hmac.new(self._hash_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
        return digest[:40]


@lru_cache(maxsize=1)
def get_cipher() -> PiiCipher:
    return PiiCipher(get_keyring().secret("pii"))


_PHONE_RE = re.compile(r"^\+?[0-9][0-9 \-]{5,19}$")


def normalize_phone(raw: str) -> str:
    """Digits only, mainland numbers without their +86 prefix: the form that is hashed and stored."""
    text = raw.strip()
    if not _PHONE_RE.match(text):
        raise ValueError("not a phone number")
    digits = re.sub(r"\D", "", text)
    if text.startswith("+86") or (len(digits) == 13 and digits.startswith("86")):
        digits = digits[2:]
    return digits


def mask_phone(phone: str) -> str:
    """`13812341234` -> `138****1234`; shorter numbers show only their last two digits."""
    if len(phone) >= 11:
        return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"
    return "*" * max(len(phone) - 2, 0) + phone[-2:]


def mask_name(name: str) -> str:
    """`张三丰` -> `张**`, `Alice` -> `A****`: the first character and the length, nothing else. A name of one
    character would be shown whole that way, so it is `*`."""
    if not name:
        return ""
    if len(name) == 1:
        return "*"
    return name[0] + "*" * (len(name) - 1)
