"""Where export files are kept: S3 in the cloud, a folder on a developer's machine (as posters are).

A job writes numbered parts (`exports/{id}/part-{n:05d}.csv`); a part's name depends only on its
number, so a page written again after a crash replaces its part instead of adding rows. The
finished file (`exports/{id}.csv`) is the header followed by the parts in order. The bucket's
lifecycle rule removes everything under `exports/` after 7 days.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from chalicelib.core.config import get_settings

PREFIX = "exports/"
# S3 multipart parts must be at least 5 MiB, except the last.
MIN_UPLOAD_PART = 5 * 1024 * 1024
# A presigned URL is issued by a stepped-up, audited download and followed at once: a minute is plenty,
# and little time to pass it on.
DOWNLOAD_URL_SECONDS = 60
READ_AHEAD = 16


def part_key(eid: str, number: int) -> str:
    return f"{PREFIX}{eid}/part-{number:05d}.csv"


def file_key(eid: str) -> str:
    return f"{PREFIX}{eid}.csv"


def file_name(eid: str) -> str:
    return f"{eid}.csv"


class ExportFiles(Protocol):
    def put_part(self, eid: str, number: int, body: bytes) -> None: ...

    def assemble(self, eid: str, head: bytes, parts: int) -> None: ...

    def read(self, eid: str) -> bytes | None: ...

    def download_url(self, eid: str) -> str | None:
        """A URL the file can be fetched from directly, or None when the API serves it."""
        ...


def _write_atomically(path: Path, chunks: list[Path] | None, head: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as handle:
        handle.write(head)
        for chunk in chunks or ():
            handle.write(chunk.read_bytes())
    Path(temporary).replace(path)


class FolderFiles:
    """Files under a folder; each written to a temporary name and renamed, so none is ever half there."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put_part(self, eid: str, number: int, body: bytes) -> None:
        _write_atomically(self.root / part_key(eid, number), None, body)

    def assemble(self, eid: str, head: bytes, parts: int) -> None:
        chunks = [self.root / part_key(eid, n) for n in range(1, parts + 1)]
        _write_atomically(self.root / file_key(eid), chunks, head)

    def read(self, eid: str) -> bytes | None:
        try:
            return (self.root / file_key(eid)).read_bytes()
        except FileNotFoundError:
            return None

    def download_url(self, eid: str) -> str | None:
        return None


class S3Files:
    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def put_part(self, eid: str, number: int, body: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=part_key(eid, number), Body=body, ContentType="text/csv")

    def assemble(self, eid: str, head: bytes, parts: int) -> None:
        """One put when the file is small; otherwise a multipart upload, buffering parts up to 5 MiB each."""
        key = file_key(eid)
        buffer = bytearray(head)
        upload_id: str | None = None
        uploaded: list[dict[str, Any]] = []
        try:
            for body in self._parts(eid, parts):
                buffer += body
                if len(buffer) >= MIN_UPLOAD_PART:
                    if upload_id is None:
                        upload_id = self._start(key, eid)
                    uploaded.append(self._upload(key, upload_id, len(uploaded) + 1, bytes(buffer)))
                    buffer.clear()
            if upload_id is None:
                self.client.put_object(
                    Bucket=self.bucket, Key=key, Body=bytes(buffer), ContentType="text/csv; charset=utf-8",
                    ContentDisposition=f'attachment; filename="{file_name(eid)}"',
                )  # fmt: skip
                return
            if buffer:
                uploaded.append(self._upload(key, upload_id, len(uploaded) + 1, bytes(buffer)))
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": uploaded}
            )
        except Exception:
            if upload_id is not None:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
            raise

    def _parts(self, eid: str, parts: int) -> Iterator[bytes]:
        """The parts in order, fetched `READ_AHEAD` at a time in parallel: thousands of small objects
        read one by one would outlast the run."""
        numbers = list(range(1, parts + 1))

        def fetch(number: int) -> bytes:
            return bytes(self.client.get_object(Bucket=self.bucket, Key=part_key(eid, number))["Body"].read())

        with ThreadPoolExecutor(max_workers=READ_AHEAD) as pool:
            for start in range(0, len(numbers), READ_AHEAD):
                yield from pool.map(fetch, numbers[start : start + READ_AHEAD])

    def _start(self, key: str, eid: str) -> str:
        started = self.client.create_multipart_upload(
            Bucket=self.bucket, Key=key, ContentType="text/csv; charset=utf-8",
            ContentDisposition=f'attachment; filename="{file_name(eid)}"',
        )  # fmt: skip
        return str(started["UploadId"])

    def _upload(self, key: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
        return {"PartNumber": number, "ETag": answer["ETag"]}

    def read(self, eid: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=file_key(eid))
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(answer["Body"].read())

    def download_url(self, eid: str) -> str | None:
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": file_key(eid)}, ExpiresIn=DOWNLOAD_URL_SECONDS
            )
        )


@lru_cache(maxsize=1)
def get_files() -> ExportFiles:
    settings = get_settings()
    if settings.export_bucket:
        import boto3  # imported when an export runs, not on every cold start
        from botocore.config import Config  # with boto3, on the first export only

        # SigV4 presigned URLs: required by buckets encrypted with KMS and in newer regions.
        client = boto3.client("s3", region_name=settings.region, config=Config(signature_version="s3v4"))
        return S3Files(settings.export_bucket, client)
    return FolderFiles(settings.export_dir)
