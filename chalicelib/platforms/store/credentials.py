"""A tenant's platform credentials (`T#{tid}` / `PLATFORM#{platform}`): one encrypted document per platform."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DeleteError

from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import PlatformCredentialsItem


@dataclass(frozen=True)
class StoredCredentials:
    tid: str
    platform: str
    document_enc: str
    version: int
    updated_at: str


def get(tid: str, platform: str) -> StoredCredentials | None:
    item = get_entity(
        PlatformCredentialsItem, keys.tenant_pk(tid), keys.platform_credentials_sk(platform), consistent=True
    )
    if item is None:
        return None
    return StoredCredentials(
        tid=item.tid,
        platform=item.platform,
        document_enc=item.document_enc,
        version=int(item.version),
        updated_at=item.updated_at,
    )


def put(tid: str, platform: str, document_enc: str, updated_at: str, expected_version: int | None) -> int:
    """Write the document over version `expected_version` (None: only if there is none); the new version.

    A concurrent change in between is a 409: the merge was made over what is no longer there."""
    version = (expected_version or 0) + 1
    item = PlatformCredentialsItem(
        PK=keys.tenant_pk(tid),
        SK=keys.platform_credentials_sk(platform),
        tid=tid,
        platform=platform,
        document_enc=document_enc,
        version=version,
        updated_at=updated_at,
    )
    condition = (
        PlatformCredentialsItem.PK.does_not_exist()
        if expected_version is None
        else PlatformCredentialsItem.version == expected_version
    )
    if not save_if(item, condition, "save platform credentials"):
        raise Conflict("the credentials changed meanwhile; read them and retry", code=Code.CONCURRENT_UPDATE)
    return version


def delete(tid: str, platform: str) -> bool:
    """Remove the credentials; False when there were none."""
    ensure_bound()
    item = PlatformCredentialsItem(PK=keys.tenant_pk(tid), SK=keys.platform_credentials_sk(platform))
    try:
        with unavailable_on_failure("delete platform credentials"):
            item.delete(condition=PlatformCredentialsItem.PK.exists())
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
