"""Audit anchors outside the table: an append-only file locally, an Object Lock bucket in the cloud."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from moto import mock_aws

from chalicelib.accounts.rules.audit import Anchor
from chalicelib.accounts.store.anchors import FileAnchorLog, S3AnchorLog, get_anchor_log, object_key
from chalicelib.core.config import get_settings


def test_the_file_log_appends_and_finds_a_tenants_highest_anchor(tmp_path: Path) -> None:
    path = tmp_path / "data" / "audit-anchors.jsonl"
    log = FileAnchorLog(path)
    assert log.latest("shop") is None

    log.put(Anchor("shop", 3, "aa", "2026-12-01T00:00:00Z"))
    log.put(Anchor("other", 9, "bb", "2026-12-01T00:00:00Z"))
    log.put(Anchor("shop", 7, "cc", "2026-12-01T00:05:00Z"))

    assert log.latest("shop") == Anchor("shop", 7, "cc", "2026-12-01T00:05:00Z")
    assert log.latest("other") == Anchor("other", 9, "bb", "2026-12-01T00:00:00Z")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(d["tid"], d["seq"]) for d in lines] == [("shop", 3), ("other", 9), ("shop", 7)]
    assert set(lines[0]) == {"tid", "seq", "mac", "at"}


def test_a_torn_last_line_does_not_hide_the_others(tmp_path: Path) -> None:
    path = tmp_path / "audit-anchors.jsonl"
    log = FileAnchorLog(path)
    log.put(Anchor("shop", 2, "aa", "t"))
    with path.open("a") as handle:
        handle.write('{"tid":"shop","seq":9')

    assert log.latest("shop") == Anchor("shop", 2, "aa", "t")


def test_object_keys_count_down_so_the_first_listed_is_the_newest() -> None:
    assert object_key("shop", 10) < object_key("shop", 9) < object_key("shop", 1)
    assert object_key("shop", 10).startswith("audit-anchors/shop/")


def test_the_s3_log_writes_locked_objects_and_reads_the_newest() -> None:
    import boto3

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="anchors", ObjectLockEnabledForBucket=True)
        s3.put_object_lock_configuration(
            Bucket="anchors",
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 400}},
            },
        )
        log = S3AnchorLog(s3, "anchors")
        assert log.latest("shop") is None

        for seq in (1, 12, 5):
            log.put(Anchor("shop", seq, f"mac{seq}", "2026-12-01T00:00:00Z"))
        log.put(Anchor("shopper", 99, "x", "2026-12-01T00:00:00Z"))  # a tenant id the other one prefixes

        assert log.latest("shop") == Anchor("shop", 12, "mac12", "2026-12-01T00:00:00Z")
        head = s3.head_object(Bucket="anchors", Key=object_key("shop", 12))
        assert head["ObjectLockMode"] == "COMPLIANCE"
        # Compliance mode: the anchor's version cannot be deleted before its time.
        version = head["VersionId"]
        with pytest.raises(s3.exceptions.ClientError):
            s3.delete_object(Bucket="anchors", Key=object_key("shop", 12), VersionId=version)


def test_settings_choose_the_bucket_else_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    get_anchor_log.cache_clear()
    assert isinstance(get_anchor_log(), FileAnchorLog)

    monkeypatch.setenv("FISSION_AUDIT_ANCHOR_BUCKET", "anchors")
    get_settings.cache_clear()
    get_anchor_log.cache_clear()
    with mock_aws():  # a client looks for credentials when made
        assert isinstance(get_anchor_log(), S3AnchorLog)

    monkeypatch.delenv("FISSION_AUDIT_ANCHOR_BUCKET")
    monkeypatch.setenv("FISSION_STAGE", "dev")
    get_settings.cache_clear()
    get_anchor_log.cache_clear()
    with pytest.raises(RuntimeError, match="FISSION_AUDIT_ANCHOR_BUCKET"):
        get_anchor_log()
    get_settings.cache_clear()
    get_anchor_log.cache_clear()
