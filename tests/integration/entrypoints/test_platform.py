"""Readiness, cold-start hygiene and cloud key management (KMS envelope keys stored in the table)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import Api

ROOT = Path(__file__).resolve().parents[3]


def test_health_is_503_until_every_runtime_probe_is_ready(api: Api) -> None:
    from chalicelib.http import health

    health.register_probe("stream_pump", lambda: False)
    try:
        status, body = api.call("GET", "/v1/health")
        assert (status, body["status"], body["checks"]["stream_pump"]) == (503, "starting", "starting")
    finally:
        health.clear_probes()
    status, body = api.call("GET", "/v1/health")
    assert (status, body["checks"]) == (200, {"table": "ok"})


def test_health_reports_an_unreachable_table(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core.errors import Unavailable
    from chalicelib.table import db

    def down() -> None:
        raise Unavailable("down")

    monkeypatch.setattr(db, "table_ready", down)
    status, body = api.call("GET", "/v1/health")
    assert (status, body["checks"]["table"]) == (503, "unavailable")


def test_importing_the_app_reads_no_settings_and_loads_no_heavy_modules() -> None:
    # GIVEN an environment with none of the app's settings
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FISSION_", "AWS_"))}
    probe = (
        "import sys, app\n"
        "heavy = sorted(m for m in ('PIL', 'qrcode', 'argon2', 'jwt', 'cryptography.hazmat.primitives.ciphers.aead',"
        " 'moto', 'aws_xray_sdk', 'boto3', 'pynamodb', 'pydantic_settings') if m in sys.modules)\n"
        "from chalicelib.core.config import get_settings\n"
        "assert get_settings.cache_info().currsize == 0, 'settings were read at import'\n"
        "print(','.join(heavy))\n"
    )
    # WHEN app is imported in a fresh interpreter THEN nothing was configured and nothing heavy loaded
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


@pytest.fixture
def kms_key() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        kms = boto3.client("kms", region_name="us-east-1")
        yield kms, kms.create_key(Description="fission test")["KeyMetadata"]["KeyId"]


def test_kms_keyring_creates_one_data_key_stored_wrapped_in_the_table(table: str, kms_key: tuple[Any, str]) -> None:
    from chalicelib.security.keyring import KmsKeyring
    from chalicelib.security.store import TableWrappedKeyStore

    kms, key_id = kms_key
    name = f"pii-{os.urandom(3).hex()}"
    first = KmsKeyring(kms, key_id, TableWrappedKeyStore()).secret(name)
    # A second container (new keyring, no cache) unwraps the same key rather than making another.
    second = KmsKeyring(kms, key_id, TableWrappedKeyStore()).secret(name)
    assert first == second and len(first) == 32
    wrapped = TableWrappedKeyStore().get(name)
    assert wrapped is not None and first not in wrapped


def test_kms_keyring_race_keeps_the_first_written_key(table: str, kms_key: tuple[Any, str]) -> None:
    from chalicelib.security.keyring import KmsKeyring
    from chalicelib.security.store import TableWrappedKeyStore

    kms, key_id = kms_key
    name = f"token-{os.urandom(3).hex()}"
    store = TableWrappedKeyStore()
    winner = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"fission:key": name})
    assert store.put_if_absent(name, winner["CiphertextBlob"]) == winner["CiphertextBlob"]
    loser = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext={"fission:key": name})
    assert store.put_if_absent(name, loser["CiphertextBlob"]) == winner["CiphertextBlob"]
    assert KmsKeyring(kms, key_id, store).secret(name) == winner["Plaintext"]


def test_cloud_stage_refuses_to_keep_keys_on_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.core.config import get_settings
    from chalicelib.security import keyring

    monkeypatch.setenv("FISSION_STAGE", "prod")
    monkeypatch.delenv("FISSION_KMS_KEY_ID", raising=False)
    get_settings.cache_clear()
    keyring.get_keyring.cache_clear()
    try:
        with pytest.raises(RuntimeError, match="FISSION_KMS_KEY_ID"):
            keyring.get_keyring()
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
        keyring.get_keyring.cache_clear()


def test_manage_cli_creates_a_tenant_whose_owner_can_log_in(api: Api) -> None:
    from local.manage import main

    tid = f"cli-{os.urandom(3).hex()}"
    argv = ["create-tenant", "--id", tid, "--name", "CLI Shop", "--owner-email", f"boss@{tid}.cn"]
    assert main([*argv, "--owner-password", "cli-password-1"]) == 0
    assert main([*argv, "--owner-password", "cli-password-1"]) == 0  # idempotent
    assert api.login(f"boss@{tid}.cn", "cli-password-1")
    assert (
        main(
            [
                "create-tenant",
                "--id",
                "Bad Id!",
                "--name",
                "x",
                "--owner-email",
                "a@b.cn",
                "--owner-password",
                "password-1",
            ]
        )
        == 2
    )
