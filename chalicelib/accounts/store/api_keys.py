"""API keys (`APIKEY#{kid}` / `META`, listed per tenant on GSI1 `T#{tid}#APIKEY`): hashed secrets, scopes, state;
and each key's usage log (`T#{tid}#KEYUSE#{kid}#{yyyymmdd}`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.accounts.rules.records import ApiKeyRecord, ApiKeyUse
from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest
from chalicelib.table import keys
from chalicelib.table.db import (
    decode_cursor,
    encode_cursor,
    ensure_bound,
    get_entity,
    is_condition_failure,
    save_if,
    unavailable_on_failure,
)
from chalicelib.table.models import ApiKeyItem, ApiKeyUseItem, Item


@dataclass(frozen=True)
class UsePage:
    items: list[ApiKeyUse]
    next_cursor: str | None


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


def _use_day(at: str) -> str:
    return at[:10].replace("-", "")


def add_use(tid: str, use: ApiKeyUse, expires_at: int) -> None:
    """One PutItem, no read and no condition: a key's busiest minute writes as many items, none shared."""
    ensure_bound()
    item = ApiKeyUseItem(
        PK=keys.api_key_use_pk(tid, use.kid, _use_day(use.at)), SK=keys.api_key_use_sk(use.at, use.ref),
        kid=use.kid, at=use.at, method=use.method, route=use.route, status=use.status, ref=use.ref,
        request_id=use.request_id, client_ip=use.client_ip, expires_at=expires_at,
    )  # fmt: skip
    with unavailable_on_failure("record API key use"):
        item.save()


def _use(item: ApiKeyUseItem) -> ApiKeyUse:
    return ApiKeyUse(
        kid=item.kid, at=item.at, method=item.method, route=item.route, status=int(item.status), ref=item.ref,
        request_id=item.request_id, client_ip=item.client_ip,
    )  # fmt: skip


def _day_end(day: date) -> str:
    """A sort-key bound above every use of `day` (uses sort by their ISO time, `...T23:59:59Z#...` at most)."""
    return f"{day.isoformat()}T24"


def uses(tid: str, kid: str, since: str, until: str, cursor: str | None, limit: int, max_days: int) -> UsePage:
    """A key's uses from `since` to `until` (ISO, inclusive), newest first, reading day partitions from the
    cursor's day down: up to `limit` uses and at most `max_days` partitions, so a page may be short (or
    empty) with a cursor when the span holds more days; 400 INVALID_CURSOR for a cursor this listing did not
    make (or one outside the span)."""
    ensure_bound()
    high = keys.api_key_use_sk(until, "~")  # above every use in `until`'s second
    if cursor is not None:
        high = _resume(cursor, since, high)
    day, first = date.fromisoformat(high[:10]), date.fromisoformat(since[:10])
    found: list[ApiKeyUse] = []
    more = False
    read = 0
    while day >= first and read < max_days and len(found) < limit:
        want = limit - len(found)
        with unavailable_on_failure("API key uses"):
            results = Item.query(
                keys.api_key_use_pk(tid, kid, day.strftime("%Y%m%d")),
                Item.SK.between(since, high),
                scan_index_forward=False,
                limit=want + 2,  # the cursor's own item (bounds are inclusive) and one to tell if more follow
                page_size=want + 2,
            )
            batch = [i for i in results if isinstance(i, ApiKeyUseItem) and i.SK != high]
        read += 1
        found += [_use(i) for i in batch[:want]]
        if len(batch) > want:
            more = True
            break
        day -= timedelta(days=1)
        high = _day_end(day)
    if more or (len(found) == limit and day >= first):
        last = found[-1]
        return UsePage(found, encode_cursor({"before": keys.api_key_use_sk(last.at, last.ref)}))
    if day >= first:  # the page's days ran out before the span did
        return UsePage(found, encode_cursor({"before": high}))
    return UsePage(found, None)


def _resume(cursor: str, since: str, high: str) -> str:
    before = decode_cursor(cursor).get("before")
    if isinstance(before, str) and since[:10] <= before[:10] and before <= high:
        try:
            date.fromisoformat(before[:10])
        except ValueError:
            pass
        else:
            return before
    raise BadRequest("the cursor is not one this listing returned", code=Code.INVALID_CURSOR)
