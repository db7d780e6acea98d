"""Audit anchors outside the table: an S3 bucket under Object Lock in the cloud, an append-only file locally.

Whoever can rewrite the table cannot reach these: in the cloud the objects are locked for the bucket's
retention period and the app's role may only add objects, never delete them.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.accounts.rules.audit import Anchor
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Unavailable
from chalicelib.table.keys import AUDIT_LAST_SEQ

PREFIX = "audit-anchors"


class AnchorLog(Protocol):
    def latest(self, tid: str) -> Anchor | None:
        """The tenant's anchor with the highest sequence number."""
        ...

    def put(self, anchor: Anchor) -> None: ...


def _document(anchor: Anchor) -> dict[str, Any]:
    return {"tid": anchor.tid, "seq": anchor.seq, "mac": anchor.mac, "at": anchor.at}


def _anchor(document: dict[str, Any]) -> Anchor:
    return Anchor(str(document["tid"]), int(document["seq"]), str(document["mac"]), str(document["at"]))


class FileAnchorLog:
    """One JSON line per anchor, appended (dev and tests)."""

    def __init__(self, path: Path) -> None:
        self._path = path

    def latest(self, tid: str) -> Anchor | None:
        if not self._path.exists():
            return None
        best: Anchor | None = None
        with self._path.open(encoding="utf-8") as lines:
            for line in lines:
                try:
                    anchor = _anchor(json.loads(line))
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut short by a crash: the others still count
                if anchor.tid == tid and (best is None or anchor.seq >= best.seq):
                    best = anchor
        return best

    def put(self, anchor: Anchor) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(_document(anchor), sort_keys=True, separators=(",", ":")) + "\n").encode()
        # O_APPEND: one write per line, never a rewrite of what is there.
        fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)


def object_key(tid: str, seq: int) -> str:
    """Keys count down, so a tenant's first key in S3's ascending listing is its newest anchor."""
    return f"{PREFIX}/{tid}/{AUDIT_LAST_SEQ - seq:012d}.json"


class S3AnchorLog:
    """One object per anchor; the bucket's default Object Lock retention applies to each."""

    def __init__(self, s3_client: Any, bucket: str) -> None:
        self._s3 = s3_client
        self._bucket = bucket

    def latest(self, tid: str) -> Anchor | None:
        try:
            listed = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=f"{PREFIX}/{tid}/", MaxKeys=1)
            contents = listed.get("Contents") or []
            if not contents:
                return None
            body = self._s3.get_object(Bucket=self._bucket, Key=contents[0]["Key"])["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable("the audit anchors cannot be read; retry shortly") from exc
        return _anchor(json.loads(body))

    def put(self, anchor: Anchor) -> None:
        body = json.dumps(_document(anchor), sort_keys=True, separators=(",", ":")).encode()
        try:
            # Object Lock refuses a put without an integrity checksum.
            self._s3.put_object(
                Bucket=self._bucket,
                Key=object_key(anchor.tid, anchor.seq),
                Body=body,
                ContentType="application/json",
                ChecksumAlgorithm="SHA256",
            )
        except (ClientError, BotoCoreError) as exc:
            raise Unavailable("the audit anchor cannot be written; retry shortly") from exc


@lru_cache(maxsize=1)
def get_anchor_log() -> AnchorLog:
    settings = get_settings()
    if settings.audit_anchor_bucket:
        return S3AnchorLog(boto3.client("s3", region_name=settings.region), settings.audit_anchor_bucket)
    if settings.is_cloud:
        raise RuntimeError("FISSION_AUDIT_ANCHOR_BUCKET is required in cloud stages: anchors live outside Lambda")
    return FileAnchorLog(settings.audit_anchor_file)
