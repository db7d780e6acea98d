"""A tenant's landing domains (`T#{tid}` / `DOMAIN#{did}`): host, status, order, who blocked it and why."""

from __future__ import annotations

from typing import cast

from pynamodb.exceptions import DeleteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action

from chalicelib.accounts.rules.domains import DomainRecord, DomainStatus
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, is_condition_failure, save_if, unavailable_on_failure
from chalicelib.table.models import DomainItem, Item


def _record(item: DomainItem) -> DomainRecord:
    return DomainRecord(
        tid=item.tid, did=item.did, host=item.host, status=cast(DomainStatus, item.status),
        priority=int(item.priority), created_at=item.created_at, created_by=item.created_by,
        blocked_at=item.blocked_at, blocked_by=item.blocked_by, reason=item.reason,
    )  # fmt: skip


def add(domain: DomainRecord) -> bool:
    """Write a new domain once (an id is never reused)."""
    ensure_bound()
    item = DomainItem(
        PK=keys.tenant_pk(domain.tid), SK=keys.domain_sk(domain.did), tid=domain.tid, did=domain.did,
        host=domain.host, status=domain.status, priority=domain.priority, created_at=domain.created_at,
        created_by=domain.created_by,
    )  # fmt: skip
    return save_if(item, DomainItem.PK.does_not_exist(), "landing domain")


def for_tenant(tid: str) -> list[DomainRecord]:
    """Every domain of the tenant, healthy and blocked, unordered (the rules order them).

    A strongly consistent read: a block must move the very next link, in every container."""
    ensure_bound()
    with unavailable_on_failure("landing domains"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.DOMAIN_PREFIX), consistent_read=True)
        return [_record(i) for i in found if isinstance(i, DomainItem)]


def block(tid: str, did: str, at: str, by: str, reason: str | None) -> bool:
    """Healthy -> blocked, once; False if the domain is missing or already blocked."""
    ensure_bound()
    item = DomainItem(PK=keys.tenant_pk(tid), SK=keys.domain_sk(did))
    actions: list[Action] = [
        DomainItem.status.set("blocked"),
        DomainItem.blocked_at.set(at),
        DomainItem.blocked_by.set(by),
    ]
    actions.append(DomainItem.reason.set(reason) if reason is not None else DomainItem.reason.remove())
    return _update(item, actions, DomainItem.status == "healthy")


def unblock(tid: str, did: str) -> bool:
    """Blocked -> healthy, once; False if the domain is missing or already healthy."""
    ensure_bound()
    item = DomainItem(PK=keys.tenant_pk(tid), SK=keys.domain_sk(did))
    actions: list[Action] = [
        DomainItem.status.set("healthy"), DomainItem.blocked_at.remove(), DomainItem.blocked_by.remove(),
        DomainItem.reason.remove(),
    ]  # fmt: skip
    return _update(item, actions, DomainItem.status == "blocked")


def _update(item: DomainItem, actions: list[Action], condition: Condition) -> bool:
    try:
        with unavailable_on_failure("landing domain status"):
            item.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def delete(tid: str, did: str) -> bool:
    """Remove a domain; False if it was not there."""
    ensure_bound()
    item = DomainItem(PK=keys.tenant_pk(tid), SK=keys.domain_sk(did))
    try:
        with unavailable_on_failure("delete landing domain"):
            item.delete(condition=DomainItem.PK.exists())
    except DeleteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True
