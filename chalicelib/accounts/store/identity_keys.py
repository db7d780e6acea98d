"""A tenant's identity-assertion keys (`T#{tid}` / `IDKEY#{kid}`): encrypted secrets, active or retired."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib.accounts.rules.records import IdentityKeyRecord
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import IdentityKeyItem, Item


def _record(item: IdentityKeyItem) -> IdentityKeyRecord:
    return IdentityKeyRecord(
        tid=item.tid, kid=item.kid, secret_enc=item.secret_enc, status=item.status, created_at=item.created_at,
        created_by=item.created_by, retired_at=item.retired_at,
    )  # fmt: skip


def add(key: IdentityKeyRecord) -> bool:
    """Write a new key once (a key id is never reused)."""
    ensure_bound()
    item = IdentityKeyItem(
        PK=keys.tenant_pk(key.tid), SK=keys.identity_key_sk(key.kid), tid=key.tid, kid=key.kid,
        secret_enc=key.secret_enc, status=key.status, created_at=key.created_at, created_by=key.created_by,
    )  # fmt: skip
    return save_if(item, IdentityKeyItem.PK.does_not_exist(), "identity key")


def for_tenant(tid: str, *, consistent: bool = True) -> list[IdentityKeyRecord]:
    """Every key of the tenant, active and retired, oldest first."""
    ensure_bound()
    with unavailable_on_failure("identity keys"):
        found = Item.query(
            keys.tenant_pk(tid), Item.SK.startswith(keys.IDENTITY_KEY_PREFIX), consistent_read=consistent
        )
        return sorted((_record(i) for i in found if isinstance(i, IdentityKeyItem)), key=lambda k: k.created_at)


def retire(tid: str, kid: str, at: str) -> bool:
    """Active -> retired, once; False if the key is missing or already retired."""
    ensure_bound()
    item = IdentityKeyItem(PK=keys.tenant_pk(tid), SK=keys.identity_key_sk(kid))
    try:
        with unavailable_on_failure("retire identity key"):
            item.update(
                actions=[IdentityKeyItem.status.set("retired"), IdentityKeyItem.retired_at.set(at)],
                condition=IdentityKeyItem.status == "active",
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
