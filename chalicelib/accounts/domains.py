"""A tenant's landing domains: register, order, block and unblock them; which host links are minted on.

Owner-only (`domain:manage`), every change in the audit trail. A block takes effect on the next link minted
and the next short link followed, in every container: the domains are read with a consistent query, not
cached. docs/domains.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from chalicelib.accounts import audit
from chalicelib.accounts.rules import domains as rules
from chalicelib.accounts.rules.domains import DomainBlock, DomainCreate, DomainRecord
from chalicelib.accounts.store import domains as store
from chalicelib.core.clock import iso
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal


@dataclass(frozen=True)
class LandingHosts:
    """What link minting needs: the host to mint on (None: the default base) and every registered host."""

    current: str | None
    registered: frozenset[str]


def _view(domain: DomainRecord) -> dict[str, Any]:
    return {
        "domain_id": domain.did, "host": domain.host, "url": f"https://{domain.host}", "status": domain.status,
        "priority": domain.priority, "created_at": domain.created_at, "created_by": domain.created_by,
        "blocked_at": domain.blocked_at, "blocked_by": domain.blocked_by, "reason": domain.reason,
    }  # fmt: skip


def _reserved() -> frozenset[str]:
    """Hosts that serve the API: blocking one must never be possible through a landing domain."""
    host = urlsplit(get_settings().public_base_url).hostname
    return frozenset({host.lower()}) if host else frozenset()


def list_domains(actor: Principal) -> dict[str, Any]:
    found = rules.ordered(store.for_tenant(actor.tid))
    current = rules.current(found)
    return {
        "items": [_view(d) for d in found],
        "current_host": current.host if current else None,
        # Where links go while no domain is healthy (none registered, or all blocked).
        "fallback_base_url": get_settings().site_url(""),
    }


def _found(tid: str, did: str) -> DomainRecord:
    domain = next((d for d in store.for_tenant(tid) if d.did == did), None)
    if domain is None:
        raise NotFound("no such landing domain", code=Code.DOMAIN_NOT_FOUND)
    return domain


def create(actor: Principal, body: DomainCreate, now: datetime) -> dict[str, Any]:
    try:
        host = rules.normalise_host(body.host, reserved=_reserved())
    except rules.InvalidHost as exc:
        raise ValidationFailed(str(exc), code=Code.DOMAIN_INVALID, details={"reason": exc.reason}) from exc
    existing = store.for_tenant(actor.tid)
    if any(d.host == host for d in existing):
        raise Conflict(f"{host} is already one of your landing domains", code=Code.DOMAIN_EXISTS)
    if len(existing) >= rules.MAX_DOMAINS:
        raise Conflict(f"at most {rules.MAX_DOMAINS} landing domains; delete one first", code=Code.TOO_MANY_DOMAINS)
    last = max((d.priority for d in existing), default=-1)
    priority = body.priority if body.priority is not None else min(last + 1, rules.MAX_PRIORITY)
    domain = DomainRecord(
        tid=actor.tid, did=new_id("dom"), host=host, status="healthy", priority=priority, created_at=iso(now),
        created_by=actor.email,
    )  # fmt: skip
    store.add(domain)
    audit.record(actor.tid, actor.email, "domain.create", domain.did, {"host": host, "priority": priority}, now)
    return _view(domain)


def block(actor: Principal, did: str, body: DomainBlock, now: datetime) -> dict[str, Any]:
    """Healthy -> blocked: new links move to the next healthy domain at once. Blocking a blocked domain
    answers the same and changes nothing (an external monitor may report it more than once)."""
    if store.block(actor.tid, did, iso(now), actor.email, body.reason):
        domain = _found(actor.tid, did)
        audit.record(actor.tid, actor.email, "domain.block", did, {"host": domain.host, "reason": body.reason}, now)
        logger.warning("landing domain blocked", tenant_id=actor.tid, domain_id=did, host=domain.host)
        return _view(domain)
    return _view(_found(actor.tid, did))


def unblock(actor: Principal, did: str, now: datetime) -> dict[str, Any]:
    """Blocked -> healthy (the block was lifted, or was a mistake); idempotent like block."""
    if store.unblock(actor.tid, did):
        domain = _found(actor.tid, did)
        audit.record(actor.tid, actor.email, "domain.unblock", did, {"host": domain.host}, now)
        return _view(domain)
    return _view(_found(actor.tid, did))


def delete(actor: Principal, did: str, now: datetime) -> None:
    domain = _found(actor.tid, did)
    if store.delete(actor.tid, did):
        audit.record(actor.tid, actor.email, "domain.delete", did, {"host": domain.host}, now)


def landing_hosts(tid: str) -> LandingHosts:
    """The host to mint the tenant's links on now, and every host it registered."""
    found = store.for_tenant(tid)
    current = rules.current(found)
    return LandingHosts(current.host if current else None, frozenset(d.host for d in found))
