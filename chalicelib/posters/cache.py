"""Where rendered posters are kept, by content hash: S3 in the cloud, a folder on a developer's machine.

The key is a hash of everything the image shows, so an entry never goes stale: a changed
nickname or layout is a different key. Old entries are dropped by the bucket's lifecycle rule.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from chalicelib.core.config import get_settings

PREFIX = "posters/"


class PosterCache(Protocol):
    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def delete(self, key: str) -> None: ...


class FolderCache:
    """One file per poster; written to a temporary name and renamed, so a reader never sees half a file."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, key: str, body: bytes, content_type: str) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
        Path(temporary).replace(path)

    def delete(self, key: str) -> None:
        """Remove one poster (a data-subject erasure); a missing one is already gone."""
        self._path(key).unlink(missing_ok=True)


class S3Cache:
    def __init__(self, bucket: str, client: Any) -> None:
        self.bucket = bucket
        self.client = client

    def get(self, key: str) -> bytes | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=PREFIX + key)
        except self.client.exceptions.NoSuchKey:
            return None
        return bytes(answer["Body"].read())

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.client.put_object(
            Bucket=self.bucket,
            Key=PREFIX + key,
            Body=body,
            ContentType=content_type,
            CacheControl="public, max-age=31536000",
        )

    def delete(self, key: str) -> None:
        """Remove one poster (a data-subject erasure); S3 answers the same for a missing key."""
        self.client.delete_object(Bucket=self.bucket, Key=PREFIX + key)


@lru_cache(maxsize=1)
def get_cache() -> PosterCache:
    settings = get_settings()
    if settings.poster_bucket:
        import boto3  # in the Lambda runtime already; imported on the first poster only

        return S3Cache(settings.poster_bucket, boto3.client("s3", region_name=settings.region))
    return FolderCache(settings.poster_cache_dir)
