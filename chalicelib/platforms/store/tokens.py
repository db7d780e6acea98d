"""Cached platform access tokens and tickets (`PTOKEN#...`) and the lease that lets one container refresh one."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DeleteError

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, get_entity, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import PlatformLeaseItem, PlatformTokenItem

# A cached token's item stays a day past its expiry (the TTL sweeps it), a lease's a day past its end.
_TTL_SLACK_SECONDS = 86400


@dataclass(frozen=True)
class CachedToken:
    token_enc: str
    valid_until: int
    fetched_at: int


def get(tid: str, platform: str, kind: str) -> CachedToken | None:
    item = get_entity(PlatformTokenItem, keys.tenant_pk(tid), keys.platform_token_sk(platform, kind), consistent=True)
    if item is None:
        return None
    return CachedToken(token_enc=item.token_enc, valid_until=int(item.valid_until), fetched_at=int(item.fetched_at))


def put(tid: str, platform: str, kind: str, token_enc: str, valid_until: int, fetched_at: int) -> None:
    item = PlatformTokenItem(
        PK=keys.tenant_pk(tid),
        SK=keys.platform_token_sk(platform, kind),
        tid=tid,
        token_enc=token_enc,
        valid_until=valid_until,
        fetched_at=fetched_at,
        expires_at=valid_until + _TTL_SLACK_SECONDS,
    )
    save_if(item, None, "save platform token")


def delete(tid: str, platform: str, kind: str) -> None:
    ensure_bound()
    with unavailable_on_failure("delete platform token"):
        PlatformTokenItem(PK=keys.tenant_pk(tid), SK=keys.platform_token_sk(platform, kind)).delete()


def take_lease(tid: str, platform: str, kind: str, holder: str, now: float, seconds: float) -> bool:
    """The lease to refresh this token for `seconds`, if no one holds an unexpired one; True if taken."""
    item = PlatformLeaseItem(
        PK=keys.tenant_pk(tid),
        SK=keys.platform_lease_sk(platform, kind),
        holder=holder,
        lease_until=now + seconds,
        expires_at=int(now + seconds) + _TTL_SLACK_SECONDS,
    )
    condition = PlatformLeaseItem.PK.does_not_exist() | (PlatformLeaseItem.lease_until < now)
    return save_if(item, condition, "take platform token lease")


def release_lease(tid: str, platform: str, kind: str, holder: str) -> None:
    """Give the lease back, if it is still ours (it may have run out and been taken by someone else)."""
    ensure_bound()
    item = PlatformLeaseItem(PK=keys.tenant_pk(tid), SK=keys.platform_lease_sk(platform, kind))
    try:
        with unavailable_on_failure("release platform token lease"):
            item.delete(condition=PlatformLeaseItem.holder == holder)
    except DeleteError as exc:
        if not is_condition_failure(exc):
            raise
