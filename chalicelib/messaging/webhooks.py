"""Outbound webhooks: endpoint management and delivering the outbox (events are queued by `events.emit`)."""

from __future__ import annotations

import json
import time
import urllib.error
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from chalicelib.accounts import audit, totp, webhook_secret
from chalicelib.core.clock import iso, utcnow
from chalicelib.core.codes import Code
from chalicelib.core.config import get_settings
from chalicelib.core.errors import Conflict, NotFound, ValidationFailed
from chalicelib.core.ids import new_id
from chalicelib.core.observability import logger
from chalicelib.core.rbac import Principal
from chalicelib.messaging.rules import egress
from chalicelib.messaging.rules import webhooks as domain
from chalicelib.messaging.rules.records import OutboxDelivery, WebhookEndpoint
from chalicelib.messaging.store import webhooks as store
from chalicelib.security import egress as egress_guard
from chalicelib.security import signing
from chalicelib.security.pii import get_cipher

MAX_ITEMS_PER_RUN = 100
MAX_SECONDS_PER_RUN = 20.0
# Deprecated with the other `X-Fission-*` delivery headers: `webhook-id` carries the same value (docs/webhooks.md).
EVENT_ID_HEADER = "X-Fission-Event-Id"


def _allow_private(stage: str) -> bool:
    """Only where endpoints are local test servers may deliveries reach private addresses."""
    return stage in ("local", "test")


def check_url(url: str, stage: str) -> None:
    """https only, to a public host; plain http to this machine is allowed where endpoints are local test servers."""
    parts = urlsplit(url)
    local_http = parts.scheme == "http" and parts.hostname in domain.LOCAL_HOSTS and _allow_private(stage)
    if not (parts.scheme == "https" and parts.hostname) and not local_http:
        raise ValidationFailed("the url must be https", code=Code.INVALID_URL)
    try:
        egress_guard.check_url(url, allow_private=_allow_private(stage))
    except egress_guard.EgressRefused as exc:
        raise ValidationFailed(f"the url is not allowed: {exc}", code=Code.INVALID_URL) from None


def event_types() -> list[str]:
    return list(domain.EVENT_TYPES)


def audit_fingerprint(value: str) -> str:
    """A secret as the audit trail shows it (`rules.egress.audit_url`): keyed with the PII key, so equal secrets
    match and a guess cannot be tested by someone who reads the trail."""
    return get_cipher().blind_index(value, "audit-secret")[:12]


def _checked(tid: str, url: str, events: list[str], stage: str) -> None:
    check_url(url, stage)
    unknown = sorted(set(events) - set(domain.EVENT_TYPES))
    if not events or unknown:
        raise ValidationFailed(
            f"events must be a non-empty subset of {list(domain.EVENT_TYPES)}", code=Code.INVALID_EVENTS
        )
    if len(store.endpoints(tid)) >= domain.MAX_ENDPOINTS:
        raise Conflict(f"at most {domain.MAX_ENDPOINTS} webhook endpoints per tenant", code=Code.TOO_MANY_WEBHOOKS)


def create_endpoint(
    actor: Principal, url: str, events: list[str], stage: str, totp_code: str | None, now: datetime
) -> dict[str, Any]:
    """An operator's new endpoint: event payloads carry personal data (a gift's delivery address), so it is the
    owner's decision, with a fresh TOTP step-up (checked once the request is valid, so a typo spends no code)."""
    egress.check_role(actor, ["webhook.url"])
    _checked(actor.tid, url, events, stage)
    totp.require_step_up(actor, totp_code, now)
    return _add(actor.tid, url, events, now, actor.email)


def add_endpoint(
    tid: str, url: str, events: list[str], stage: str, now: datetime, *, actor: str = audit.SYSTEM
) -> dict[str, Any]:
    _checked(tid, url, events, stage)
    return _add(tid, url, events, now, actor)


def _add(tid: str, url: str, events: list[str], now: datetime, actor: str) -> dict[str, Any]:
    wid = new_id("wh")
    item = WebhookEndpoint(tid=tid, wid=wid, url=url, events=sorted(set(events)), created_at=iso(now))
    store.add_endpoint(item)
    # The whole destination; the query's values (where tokens usually sit) only as fingerprints.
    host = urlsplit(url).hostname or ""
    details = {"url": egress.audit_url(url, audit_fingerprint), "host": host, "events": list(item.events)}
    audit.record(tid, actor, "webhook.create", wid, details, now)
    return _endpoint_view(item)


def _endpoint_view(item: WebhookEndpoint) -> dict[str, Any]:
    return {"id": item.wid, "url": item.url, "events": list(item.events), "created_at": item.created_at}


def list_endpoints(tid: str) -> list[dict[str, Any]]:
    return [_endpoint_view(item) for item in store.endpoints(tid)]


def delete_endpoint(tid: str, wid: str, *, actor: str = audit.SYSTEM, now: datetime | None = None) -> None:
    if not any(item.wid == wid for item in store.endpoints(tid)):
        raise NotFound("no such webhook endpoint", code=Code.WEBHOOK_NOT_FOUND)
    store.delete_endpoint(tid, wid)
    audit.record(tid, actor, "webhook.delete", wid, {}, now or utcnow())


def delete_all(tid: str) -> None:
    for item in store.endpoints(tid):
        store.delete_endpoint(tid, item.wid)


def _post(item: OutboxDelivery, now: datetime) -> None:
    """Raise unless the endpoint answered 2xx within the timeout."""
    body = json.dumps(
        domain.envelope(item.event_id, item.event_type, item.created_at, json.loads(item.payload)), sort_keys=True
    ).encode()
    # The event id is the Standard Webhooks `webhook-id`: the same on every retry, so receivers dedupe on it.
    signing.post_signed(
        item.url, body, webhook_secret.signing_keys(item.tid, now), int(now.timestamp()), item.event_id,
        {EVENT_ID_HEADER: item.event_id}, timeout=domain.TIMEOUT_SECONDS,
        allow_private=_allow_private(get_settings().stage),
    )  # fmt: skip


def _failed(item: OutboxDelivery, error: str, now: datetime) -> str:
    """Another attempt after the backoff, or, out of attempts, dead: the store parks it for operators."""
    attempts = item.attempts + 1
    if domain.is_dead(attempts):
        status, due_at = "dead", None
    else:
        status, due_at = "pending", iso(domain.next_due(now, attempts - 1))
    store.move(item, replace(item, attempts=attempts, status=status, due_at=due_at, last_error=error[:500]))
    return status


def deliver(now: datetime | None = None) -> dict[str, int]:
    """Deliver what is due, bounded in items and time; every per-item failure is caught so one bad endpoint
    never holds back the others."""
    moment = now or utcnow()
    started = time.monotonic()
    counts = {"delivered": 0, "retried": 0, "dead": 0, "errors": 0}
    budget = MAX_ITEMS_PER_RUN
    for shard in range(domain.SHARDS):
        if budget <= 0 or time.monotonic() - started > MAX_SECONDS_PER_RUN:
            break
        for item in store.due(shard, iso(moment), budget):
            if budget <= 0 or time.monotonic() - started > MAX_SECONDS_PER_RUN:
                break
            budget -= 1
            try:
                try:
                    _post(item, moment)
                except egress_guard.EgressRefused as exc:
                    status = _failed(item, f"refused: {exc}", moment)
                    counts["dead" if status == "dead" else "retried"] += 1
                    continue
                except (urllib.error.URLError, OSError, ValueError) as exc:
                    status = _failed(item, repr(exc), moment)
                    counts["dead" if status == "dead" else "retried"] += 1
                    continue
                store.delivered(item)
                counts["delivered"] += 1
            except Exception:  # noqa: BLE001 - a storage hiccup on one item must not stop the run
                logger.exception("webhook delivery failed", event_id=item.event_id, wid=item.wid)
                counts["errors"] += 1
    return counts


def dead_deliveries(tid: str) -> list[dict[str, Any]]:
    return [
        {"event_id": i.event_id, "webhook_id": i.wid, "type": i.event_type, "attempts": i.attempts,
         "last_error": i.last_error, "created_at": i.created_at}
        for i in store.dead(tid)
    ]  # fmt: skip
