"""API keys (`APIKEY#{kid}` / `META`, listed per tenant on GSI1 `T#{tid}#APIKEY`): hashed secrets, scopes, state."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib.accounts.rules.records import ApiKeyRecord
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import ApiKeyItem, Item


def _record(item: ApiKeyItem) -> ApiKeyRecord:
    return ApiKeyRecord(
        tid=item.tid, kid=item.kid, name=item.name, scopes=tuple(str(s) for s in item.scopes or ()),
        secret_hash=item.secret_hash, status=item.status, created_at=item.created_at, created_by=item.created_by,
        revoked_at=item.revoked_at, revoked_by=item.revoked_by, last_used_at=item.last_used_at,
    )  # fmt: skip


def add(key: ApiKeyRecord) -> bool:
    """Write a new key once (a key id is never reused)."""
    ensure_bound()
    item = ApiKeyItem(
        PK=keys.api_key_pk(key.kid), SK=keys.META, GSI1PK=keys.tenant_api_keys_gsi1pk(key.tid),
        GSI1SK=f"{key.created_at}#{key.kid}", tid=key.tid, kid=key.kid, name=key.name, scopes=list(key.scopes),
        secret_hash=key.secret_hash, status=key.status, created_at=key.created_at, created_by=key.created_by,
    )  # fmt: skip
    return save_if(item, ApiKeyItem.PK.does_not_exist(), "API key")


def get(kid: str) -> ApiKeyRecord | None:
    """One strongly consistent read: a revocation is seen by the very next request."""
    item = get_entity(ApiKeyItem, keys.api_key_pk(kid), keys.META, consistent=True)
    return _record(item) if item is not None else None


def for_tenant(tid: str) -> list[ApiKeyRecord]:
    """Every key of the tenant, active and revoked, oldest first (the index trails writes by moments)."""
    ensure_bound()
    with unavailable_on_failure("API keys"):
        found = Item.gsi1.query(keys.tenant_api_keys_gsi1pk(tid))
        return [_record(i) for i in found if isinstance(i, ApiKeyItem)]


def revoke(tid: str, kid: str, at: str, by: str) -> bool:
    """Active -> revoked, once, for the key's own tenant; False if missing, another tenant's or revoked."""
    ensure_bound()
    item = ApiKeyItem(PK=keys.api_key_pk(kid), SK=keys.META)
    try:
        with unavailable_on_failure("revoke API key"):
            item.update(
                actions=[
                    ApiKeyItem.status.set("revoked"),
                    ApiKeyItem.revoked_at.set(at),
                    ApiKeyItem.revoked_by.set(by),
                ],
                condition=(ApiKeyItem.tid == tid) & (ApiKeyItem.status == "active"),
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def touch(kid: str, at: str, older_than: str) -> bool:
    """Set `last_used_at` unless another request already moved it past `older_than`; False if it had."""
    ensure_bound()
    item = ApiKeyItem(PK=keys.api_key_pk(kid), SK=keys.META)
    try:
        with unavailable_on_failure("record API key use"):
            item.update(
                actions=[ApiKeyItem.last_used_at.set(at)],
                condition=ApiKeyItem.PK.exists()
                & (ApiKeyItem.last_used_at.does_not_exist() | (ApiKeyItem.last_used_at <= older_than)),
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
