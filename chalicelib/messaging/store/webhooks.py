"""Outbound webhook endpoints (per tenant) and the sharded outbox of deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.messaging.rules.records import OutboxDelivery, WebhookEndpoint
from chalicelib.messaging.rules.webhooks import shard_of
from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import Item, OutboxItem, OutboxMarkerItem, WebhookItem

MARKER_RETENTION = timedelta(days=30)


def _connection() -> Connection:
    return Item._get_connection().connection


def _endpoint(item: WebhookItem) -> WebhookEndpoint:
    events = [str(name) for name in item.events]  # a list of strings, which the model types as attributes
    return WebhookEndpoint(tid=item.tid, wid=item.wid, url=item.url, events=events, created_at=item.created_at)


def endpoints(tid: str) -> list[WebhookEndpoint]:
    ensure_bound()
    with unavailable_on_failure("list webhooks"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.WEBHOOK_PREFIX), consistent_read=True)
        return [_endpoint(item) for item in found if isinstance(item, WebhookItem)]


def add_endpoint(endpoint: WebhookEndpoint) -> None:
    ensure_bound()
    item = WebhookItem(
        PK=keys.tenant_pk(endpoint.tid), SK=keys.webhook_sk(endpoint.wid), tid=endpoint.tid, wid=endpoint.wid,
        url=endpoint.url, events=list(endpoint.events), created_at=endpoint.created_at,
    )  # fmt: skip
    with unavailable_on_failure("add webhook"):
        item.save(condition=Item.PK.does_not_exist())


def delete_endpoint(tid: str, wid: str) -> None:
    ensure_bound()
    with unavailable_on_failure("delete webhook"):
        Item(PK=keys.tenant_pk(tid), SK=keys.webhook_sk(wid)).delete()


def _key(delivery: OutboxDelivery) -> tuple[str, str]:
    """Pending: in its event's outbox shard, ordered by due time. Dead: parked under its tenant for operators."""
    if delivery.status == "dead":
        return keys.tenant_pk(delivery.tid), keys.dead_delivery_sk(delivery.event_id, delivery.wid)
    if delivery.due_at is None:
        raise ValueError(f"a pending delivery needs a due time: {delivery.event_id}")
    return (
        keys.outbox_pk(shard_of(delivery.event_id)),
        keys.outbox_sk(delivery.due_at, delivery.event_id, delivery.wid),
    )


def _item(delivery: OutboxDelivery) -> OutboxItem:
    pk, sk = _key(delivery)
    return OutboxItem(
        PK=pk, SK=sk, tid=delivery.tid, wid=delivery.wid, url=delivery.url, event_id=delivery.event_id,
        event_type=delivery.event_type, payload=delivery.payload, created_at=delivery.created_at,
        attempts=delivery.attempts, status=delivery.status, last_error=delivery.last_error,
    )  # fmt: skip


def _delivery(item: OutboxItem) -> OutboxDelivery:
    return OutboxDelivery(
        tid=item.tid, wid=item.wid, url=item.url, event_id=item.event_id, event_type=item.event_type,
        payload=item.payload, created_at=item.created_at,
        due_at=None if item.status == "dead" else item.SK.split("#", 1)[0], attempts=int(item.attempts or 0),
        status=item.status, last_error=item.last_error,
    )  # fmt: skip


def enqueue(delivery: OutboxDelivery, now: datetime) -> bool:
    """False when this (event id, endpoint) is already queued: a redelivered batch adds nothing.

    The event id is deterministic, and a per-event marker makes the check independent of the due time in the key.
    The marker expires after `MARKER_RETENTION`, far beyond any redelivery (the stream keeps records 24 h) and the
    whole retry schedule, so the table does not grow by one marker per event forever.
    """
    ensure_bound()
    item = _item(delivery)
    marker = OutboxMarkerItem(
        PK=keys.outbox_seen_pk(shard_of(delivery.event_id)),
        SK=f"{delivery.event_id}#{delivery.wid}",
        event_id=delivery.event_id,
        wid=delivery.wid,
        expires_at=int((now + MARKER_RETENTION).timestamp()),
    )
    try:
        with unavailable_on_failure("enqueue webhook"), TransactWrite(connection=_connection()) as tx:
            tx.save(marker, condition=Item.PK.does_not_exist())
            tx.save(item, condition=Item.PK.does_not_exist())
    except TransactWriteError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def due(shard: int, until: str, limit: int) -> list[OutboxDelivery]:
    """Pending deliveries of one shard due by `until`: one key-range query, never a scan."""
    ensure_bound()
    with unavailable_on_failure("read outbox"):
        found = Item.query(keys.outbox_pk(shard), Item.SK <= f"{until}#~", limit=limit)
        return [_delivery(item) for item in found if isinstance(item, OutboxItem) and item.status == "pending"]


def move(old: OutboxDelivery, new: OutboxDelivery) -> None:
    """Reschedule or park as dead: write under the new key and delete the old in one transaction."""
    ensure_bound()
    pk, sk = _key(old)
    with unavailable_on_failure("reschedule webhook"), TransactWrite(connection=_connection()) as tx:
        tx.save(_item(new))
        tx.delete(Item(PK=pk, SK=sk))


def delivered(delivery: OutboxDelivery) -> None:
    """Drop the pending delivery; the per-event marker remains as the record that it was queued (and delivered)."""
    ensure_bound()
    pk, sk = _key(delivery)
    with unavailable_on_failure("mark delivered"):
        Item(PK=pk, SK=sk).delete()


def dead(tid: str) -> list[OutboxDelivery]:
    ensure_bound()
    with unavailable_on_failure("list dead deliveries"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.DEAD_DELIVERY_PREFIX))
        return [_delivery(item) for item in found if isinstance(item, OutboxItem)]
