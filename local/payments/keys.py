"""Keys and signatures for the payment fakes, written with `cryptography` directly (not with the product's code, so
the fakes check the product's signatures independently). Keys are made at start and never committed."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

BITS = 2048


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=BITS)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_private(pem: str) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def rsa_sign(key: rsa.RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64: what both providers call RSA2 / WECHATPAY2-SHA256-RSA2048."""
    return base64.b64encode(key.sign(message, padding.PKCS1v15(), hashes.SHA256())).decode()


def rsa_verify(key: rsa.RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message, padding.PKCS1v15(), hashes.SHA256())
    except (ValueError, InvalidSignature):
        return False
    return True


def oaep_decrypt(key: rsa.RSAPrivateKey, ciphertext: str) -> str:
    """A WeChat Pay sensitive field: RSA-OAEP with SHA-1, base64."""
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)  # noqa: S303
    return key.decrypt(base64.b64decode(ciphertext, validate=True), oaep).decode()


@dataclass
class KeyRing:
    """Named private keys, optionally kept in a 0600 JSON file so credentials pasted into a tenant survive a
    restart of `make run` (the file lives under .data/, which git ignores)."""

    path: Path | None = None

    def __post_init__(self) -> None:
        self._keys: dict[str, str] = {}
        if self.path is not None and self.path.exists():
            self._keys = dict(json.loads(self.path.read_text()))

    def key(self, name: str) -> rsa.RSAPrivateKey:
        if name not in self._keys:
            self._keys[name] = private_pem(new_key())
            self._save()
        return load_private(self._keys[name])

    def secret(self, name: str, make: str) -> str:
        """A named secret (the APIv3 key), kept like the keys."""
        if name not in self._keys:
            self._keys[name] = make
            self._save()
        return self._keys[name]

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self._keys, handle)
