"""The MAC port: a 0600 key file created once locally, a KMS HMAC key (GenerateMac / VerifyMac) in the cloud."""

from __future__ import annotations

import base64
import hashlib
import hmac
import stat
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from chalicelib.core.config import get_settings
from chalicelib.core.errors import Unavailable
from chalicelib.security import mac as mac_module
from chalicelib.security.mac import FileMac, KmsMac, get_mac


def test_the_local_key_file_is_created_once_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "audit-mac.key"

    first = FileMac(path).mac(b"entry")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = base64.b64decode(path.read_text())
    assert first == hmac.new(key, b"entry", hashlib.sha256).digest()
    written = path.stat().st_mtime_ns
    again = FileMac(path)  # a later process
    assert again.mac(b"entry") == first
    assert path.stat().st_mtime_ns == written
    assert again.verify(b"entry", first)
    assert not again.verify(b"entry!", first)
    assert not again.verify(b"entry", first[:-1] + bytes([first[-1] ^ 1]))


def test_settings_choose_the_file_under_the_secrets_folder_by_default(secrets_dir: Path) -> None:
    port = get_mac()

    assert isinstance(port, FileMac)
    port.mac(b"x")
    assert (secrets_dir / "audit-mac.key").exists()


def test_settings_choose_kms_when_a_key_is_named_and_refuse_a_cloud_stage_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FISSION_AUDIT_MAC_KEY_ID", "arn:aws:kms:us-east-1:111122223333:key/abc")
    get_settings.cache_clear()
    get_mac.cache_clear()
    with mock_aws():  # a client looks for credentials when made
        assert isinstance(get_mac(), KmsMac)

    monkeypatch.delenv("FISSION_AUDIT_MAC_KEY_ID")
    monkeypatch.setenv("FISSION_STAGE", "prod")
    get_settings.cache_clear()
    get_mac.cache_clear()
    with pytest.raises(RuntimeError, match="FISSION_AUDIT_MAC_KEY_ID"):
        get_mac()


def test_kms_generates_and_verifies_with_an_hmac_key() -> None:
    import boto3

    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        key_id = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
        port = KmsMac(kms, key_id)

        tag = port.mac(b"fission/audit/v1\x00t\x001\x00abc")

        assert len(tag) == 32
        assert port.verify(b"fission/audit/v1\x00t\x001\x00abc", tag)
        assert not port.verify(b"fission/audit/v1\x00t\x002\x00abc", tag)
        # Another HMAC key's MAC does not pass either.
        other = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]["Arn"]
        assert not KmsMac(kms, other).verify(b"fission/audit/v1\x00t\x001\x00abc", tag)


class StubKms:
    """Records the requests: their shape is what IAM (kms:GenerateMac, kms:VerifyMac) and KMS expect."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail = fail

    def generate_mac(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("generate_mac", kwargs))
        if self.fail:
            raise self.fail
        return {"Mac": b"m" * 32, "KeyId": kwargs["KeyId"], "MacAlgorithm": kwargs["MacAlgorithm"]}

    def verify_mac(self, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(("verify_mac", kwargs))
        if self.fail:
            raise self.fail
        return {"MacValid": True}


def test_the_kms_requests_name_the_key_and_hmac_sha_256() -> None:
    stub = StubKms()
    port = KmsMac(stub, "alias/fission-prod-audit")

    assert port.mac(b"data") == b"m" * 32
    assert port.verify(b"data", b"m" * 32)
    assert stub.calls == [
        ("generate_mac", {"KeyId": "alias/fission-prod-audit", "Message": b"data", "MacAlgorithm": "HMAC_SHA_256"}),
        (
            "verify_mac",
            {"KeyId": "alias/fission-prod-audit", "Message": b"data", "MacAlgorithm": "HMAC_SHA_256", "Mac": b"m" * 32},
        ),
    ]


def test_an_unreachable_or_throttling_kms_is_unavailable_not_a_false_verdict() -> None:
    from botocore.exceptions import ClientError

    throttled = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "VerifyMac")
    port = KmsMac(StubKms(fail=throttled), "k")
    with pytest.raises(Unavailable):
        port.verify(b"data", b"m")
    with pytest.raises(Unavailable):
        port.mac(b"data")
    invalid = ClientError({"Error": {"Code": "KMSInvalidMacException", "Message": "no"}}, "VerifyMac")
    assert KmsMac(StubKms(fail=invalid), "k").verify(b"data", b"m") is False


def test_the_module_reads_no_key_at_import() -> None:
    # Settings are read on first use: importing the module in a Lambda cold start touches nothing.
    assert mac_module.get_mac.cache_info().currsize == 0
