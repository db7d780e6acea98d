"""A tenant's payout provider credentials: validated input, the frozen config a provider runs with, and a view
that never shows a secret (private keys and the APIv3 key appear only as "set"; public keys by fingerprint)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import textwrap
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import BaseModel, ConfigDict, Field, field_validator

MIN_RSA_BITS = 2048


@dataclass(frozen=True)
class WeChatPayConfig:
    """What the WeChat Pay provider needs (商家转账到零钱 of a direct merchant)."""

    mchid: str
    appid: str  # the app whose openids receive the money
    merchant_serial_no: str  # the merchant API certificate's serial number
    merchant_key: rsa.RSAPrivateKey = field(repr=False)
    apiv3_key: bytes = field(repr=False)
    platform_serial: str  # the WeChat Pay public key id (PUB_KEY_ID_...) or platform certificate serial
    platform_key: rsa.RSAPublicKey = field(repr=False)
    transfer_scene_id: str | None = None


@dataclass(frozen=True)
class AlipayConfig:
    """What the Alipay provider needs (public key mode; certificate mode is not supported)."""

    app_id: str
    app_key: rsa.RSAPrivateKey = field(repr=False)
    alipay_key: rsa.RSAPublicKey = field(repr=False)


def _pem_body(text: str, label: str) -> str:
    """A key pasted as the consoles show it, a bare base64 line, wrapped as PEM; PEM is kept as it is."""
    stripped = text.strip()
    if stripped.startswith("-----BEGIN"):
        return stripped
    compact = re.sub(r"\s+", "", stripped)
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a PEM key nor base64") from None
    return f"-----BEGIN {label}-----\n" + "\n".join(textwrap.wrap(compact, 64)) + f"\n-----END {label}-----"


def load_private_key(text: str) -> rsa.RSAPrivateKey:
    """An RSA private key of at least 2048 bits, from PEM (PKCS#8 or PKCS#1) or the bare base64 of PKCS#8."""
    try:
        key = serialization.load_pem_private_key(_pem_body(text, "PRIVATE KEY").encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("the private key does not parse (PEM, unencrypted)") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the private key is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"the private key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed")
    return key


def load_public_key(text: str) -> rsa.RSAPublicKey:
    """An RSA public key of at least 2048 bits, from a PEM public key, a PEM certificate or bare base64."""
    pem = _pem_body(text, "PUBLIC KEY").encode()
    try:
        if b"-----BEGIN CERTIFICATE-----" in pem:
            key: Any = x509.load_pem_x509_certificate(pem).public_key()
        else:
            key = serialization.load_pem_public_key(pem)
    except ValueError:
        raise ValueError("the public key does not parse (PEM public key or certificate)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("the public key is not an RSA key")
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"the public key has {key.key_size} bits; at least {MIN_RSA_BITS} are needed")
    return key


def key_fingerprint(key: rsa.RSAPublicKey) -> str:
    """The SHA-256 of a public key's DER, shortened: enough to tell which key is set, nothing secret."""
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()[:16]


class WeChatPayCredentials(BaseModel):
    """The owner's input for WeChat Pay."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    provider: Literal["wechatpay"] = "wechatpay"
    mchid: str = Field(pattern=r"^\d{6,32}$")
    appid: str = Field(pattern=r"^[A-Za-z0-9]{6,32}$")
    merchant_serial_no: str = Field(pattern=r"^[0-9A-Fa-f]{8,64}$")
    merchant_private_key: str = Field(min_length=100, max_length=8192)
    apiv3_key: str = Field(min_length=32, max_length=32)
    platform_serial: str = Field(pattern=r"^[A-Za-z0-9_]{8,64}$")
    platform_public_key: str = Field(min_length=100, max_length=8192)
    transfer_scene_id: str | None = Field(default=None, pattern=r"^[0-9]{1,36}$")

    @field_validator("merchant_private_key")
    @classmethod
    def _private_key(cls, value: str) -> str:
        load_private_key(value)
        return value

    @field_validator("platform_public_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        load_public_key(value)
        return value

    @field_validator("apiv3_key")
    @classmethod
    def _apiv3_key(cls, value: str) -> str:
        if not value.isascii() or len(value.encode()) != 32:
            raise ValueError("the APIv3 key is 32 ASCII characters (the AES-256 key itself)")
        return value

    def to_config(self) -> WeChatPayConfig:
        return WeChatPayConfig(
            mchid=self.mchid,
            appid=self.appid,
            merchant_serial_no=self.merchant_serial_no.upper(),
            merchant_key=load_private_key(self.merchant_private_key),
            apiv3_key=self.apiv3_key.encode(),
            platform_serial=self.platform_serial,
            platform_key=load_public_key(self.platform_public_key),
            transfer_scene_id=self.transfer_scene_id,
        )

    def public_view(self) -> dict[str, Any]:
        merchant_public = load_private_key(self.merchant_private_key).public_key()
        return {
            "provider": self.provider,
            "mchid": self.mchid,
            "appid": self.appid,
            "merchant_serial_no": self.merchant_serial_no.upper(),
            "merchant_private_key": "set",
            "merchant_key_fingerprint": key_fingerprint(merchant_public),
            "apiv3_key": "set",
            "platform_serial": self.platform_serial,
            "platform_key_fingerprint": key_fingerprint(load_public_key(self.platform_public_key)),
            "transfer_scene_id": self.transfer_scene_id,
        }


class AlipayCredentials(BaseModel):
    """The owner's input for Alipay (an app with the 单笔转账 product, keys in public key mode)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    provider: Literal["alipay"] = "alipay"
    app_id: str = Field(pattern=r"^\d{16}$")
    app_private_key: str = Field(min_length=100, max_length=8192)
    alipay_public_key: str = Field(min_length=100, max_length=8192)

    @field_validator("app_private_key")
    @classmethod
    def _private_key(cls, value: str) -> str:
        load_private_key(value)
        return value

    @field_validator("alipay_public_key")
    @classmethod
    def _public_key(cls, value: str) -> str:
        load_public_key(value)
        return value

    def to_config(self) -> AlipayConfig:
        return AlipayConfig(
            app_id=self.app_id,
            app_key=load_private_key(self.app_private_key),
            alipay_key=load_public_key(self.alipay_public_key),
        )

    def public_view(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "app_id": self.app_id,
            "app_private_key": "set",
            "app_key_fingerprint": key_fingerprint(load_private_key(self.app_private_key).public_key()),
            "alipay_key_fingerprint": key_fingerprint(load_public_key(self.alipay_public_key)),
        }


ProviderName = Literal["wechatpay", "alipay"]
Credentials = WeChatPayCredentials | AlipayCredentials
INPUTS: dict[str, type[WeChatPayCredentials] | type[AlipayCredentials]] = {
    "wechatpay": WeChatPayCredentials,
    "alipay": AlipayCredentials,
}
# The withdrawal method each provider pays.
METHODS: dict[str, str] = {"wechatpay": "wechat", "alipay": "alipay"}
PROVIDER_OF: dict[str, str] = {method: provider for provider, method in METHODS.items()}
# How the view and the audit trail show each key: a private or public key by its public key's fingerprint; the
# APIv3 key, a bare secret, by a keyed fingerprint only.
PRIVATE_KEYS = frozenset({"merchant_private_key", "app_private_key"})
PUBLIC_KEYS = frozenset({"platform_public_key", "alipay_public_key"})
KEYED_SECRETS = frozenset({"apiv3_key"})


def sealed_context(tid: str, provider: str) -> str:
    """What the encrypted document is bound to: another tenant's or provider's ciphertext does not decrypt here."""
    return f"payout-provider:{tid}:{provider}"


def load(provider: str, document: str) -> Credentials:
    return INPUTS[provider].model_validate_json(document)


def changed_fields(before: Credentials | None, after: Credentials) -> list[str]:
    """The fields `after` sets differently from `before` (all it sets when there was nothing)."""
    old = before.model_dump() if before is not None else {}
    return sorted(k for k, v in after.model_dump().items() if k != "provider" and old.get(k) != v)
