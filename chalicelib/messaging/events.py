"""Outbound events: the one port through which other slices announce what happened to merchants' systems.

`emit` queues the event for every endpoint of the tenant subscribed to its type when it is called, and
delivery is at least once: a failed POST is retried with backoff until it is dead-lettered, and a receiver
may see an event twice (the `webhook-id` header names it). The event id is derived from the tenant,
the type and the caller's `event_key`, so emitting the same event again within 30 days (a replayed stream
batch, a retried request) queues nothing new for an endpoint that already has it.
"""

from __future__ import annotations

import json
from datetime import datetime

from chalicelib.core.clock import iso, utcnow
from chalicelib.messaging.rules import payloads
from chalicelib.messaging.rules import webhooks as domain
from chalicelib.messaging.rules.records import OutboxDelivery
from chalicelib.messaging.store import webhooks as store


def emit(tid: str, event_type: str, data: payloads.EventData, event_key: str, now: datetime | None = None) -> int:
    """Queue the event once per subscribed endpoint; returns how many items were newly queued.

    `data` is the event type's model (rules/payloads.py), the one docs/openapi.yaml's `webhooks` describe."""
    payloads.check(event_type, data)
    payload = json.dumps(data.body(), sort_keys=True)
    moment = now or utcnow()
    eid = domain.event_id(tid, event_type, event_key)
    queued = 0
    for endpoint in store.endpoints(tid):
        if event_type not in endpoint.events:
            continue
        delivery = OutboxDelivery(
            tid=tid, wid=endpoint.wid, url=endpoint.url, event_id=eid, event_type=event_type,
            payload=payload, created_at=iso(moment), due_at=iso(moment), attempts=0,
            status="pending",
        )  # fmt: skip
        queued += int(store.enqueue(delivery, moment))
    return queued
