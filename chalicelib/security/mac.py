"""Message authentication with a key the API cannot read: a KMS HMAC key in the cloud, a key file locally.

The audit chain MACs each entry so that someone who can write the table, but not use the key, cannot
re-link a chain they edited. In the cloud the key never leaves KMS (HMAC keys are not exportable): the
API's role may only ask KMS to generate or verify a MAC.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.core.config import get_settings
from chalicelib.core.errors import Unavailable
from chalicelib.security.keyring import key_file

ALGORITHM = "HMAC_SHA_256"


class Mac(Protocol):
    def mac(self, data: bytes) -> bytes:
        """The MAC of `data` under the key."""
        ...

    def verify(self, data: bytes, mac: bytes) -> bool:
        """Whether `mac` is the MAC of `data` under the key."""
        ...


class FileMac:
    """HMAC-SHA256 with a key file created 0600 on first use (dev and tests)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._key: bytes | None = None

    def _secret(self) -> bytes:
        if self._key is None:
            self._key = key_file(self._path)
        return self._key

    def mac(self, data: bytes) -> bytes:
        return hmac.new(self._secret(), data, hashlib.sha256).digest()

    def verify(self, data: bytes, mac: bytes) -> bool:
        return hmac.compare_digest(self.mac(data), mac)


class KmsMac:
    """`GenerateMac` / `VerifyMac` with a KMS key of spec HMAC_256: one request per call."""

    def __init__(self, kms_client: Any, key_id: str) -> None:
        self._kms = kms_client
        self._key_id = key_id

    def mac(self, data: bytes) -> bytes:
        try:
            answer = self._kms.generate_mac(KeyId=self._key_id, Message=data, MacAlgorithm=ALGORITHM)
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable("the audit key cannot be reached; retry shortly") from exc
        return bytes(answer["Mac"])

    def verify(self, data: bytes, mac: bytes) -> bool:
        try:
            answer = self._kms.verify_mac(KeyId=self._key_id, Message=data, MacAlgorithm=ALGORITHM, Mac=mac)
        except ClientError as exc:
            # KMS answers a wrong MAC with an error, not with MacValid false.
            if exc.response.get("Error", {}).get("Code") == "KMSInvalidMacException":
                return False
            raise Unavailable("the audit key cannot be reached; retry shortly") from exc
        except BotoCoreError as exc:
            raise Unavailable("the audit key cannot be reached; retry shortly") from exc
        return bool(answer.get("MacValid"))


@lru_cache(maxsize=1)
def get_mac() -> Mac:
    settings = get_settings()
    if settings.audit_mac_key_id:
        return KmsMac(boto3.client("kms", region_name=settings.region), settings.audit_mac_key_id)
    if settings.is_cloud:
        raise RuntimeError("FISSION_AUDIT_MAC_KEY_ID is required in cloud stages: the audit key never lives on disk")
    return FileMac(settings.effective_audit_key_file)
