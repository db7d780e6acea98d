"""Outbound webhook endpoints (per tenant) and the sharded outbox of deliveries."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.table import keys
from chalicelib.table.db import ensure_bound, is_condition_failure, unavailable_on_failure
from chalicelib.table.models import Item, OutboxItem, OutboxMarkerItem, WebhookItem

MARKER_RETENTION = timedelta(days=30)


def _connection() -> Connection:
    return Item._get_connection().connection


def endpoints(tid: str) -> list[WebhookItem]:
    ensure_bound()
    with unavailable_on_failure("list webhooks"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.WEBHOOK_PREFIX), consistent_read=True)
        return [item for item in found if isinstance(item, WebhookItem)]


def add_endpoint(item: WebhookItem) -> None:
    ensure_bound()
    with unavailable_on_failure("add webhook"):
        item.save(condition=Item.PK.does_not_exist())


def delete_endpoint(tid: str, wid: str) -> None:
    ensure_bound()
    with unavailable_on_failure("delete webhook"):
        Item(PK=keys.tenant_pk(tid), SK=keys.webhook_sk(wid)).delete()


def enqueue(item: OutboxItem, now: datetime) -> bool:
    """False when this (event id, endpoint) is already queued: a redelivered batch adds nothing.

    The event id is deterministic, and a per-event marker makes the check independent of the due time in the key.
    The marker expires after `MARKER_RETENTION`, far beyond any redelivery (the stream keeps records 24 h) and the
    whole retry schedule, so the table does not grow by one marker per event forever.
    """
    ensure_bound()
    marker = OutboxMarkerItem(
        PK=keys.outbox_seen_pk(int(item.PK.split("#")[1])),
        SK=f"{item.event_id}#{item.wid}",
        event_id=item.event_id,
        wid=item.wid,
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


def due(shard: int, until: str, limit: int) -> list[OutboxItem]:
    """Pending items of one shard due by `until`: one key-range query, never a scan."""
    ensure_bound()
    with unavailable_on_failure("read outbox"):
        found = Item.query(keys.outbox_pk(shard), Item.SK <= f"{until}#~", limit=limit)
        return [item for item in found if isinstance(item, OutboxItem) and item.status == "pending"]


def move(old: OutboxItem, new: OutboxItem) -> None:
    """Reschedule or park as dead: write under the new key and delete the old in one transaction."""
    ensure_bound()
    with unavailable_on_failure("reschedule webhook"), TransactWrite(connection=_connection()) as tx:
        tx.save(new)
        tx.delete(Item(PK=old.PK, SK=old.SK))


def delivered(item: OutboxItem) -> None:
    """Drop the pending item; the per-event marker remains as the record that it was queued (and delivered)."""
    ensure_bound()
    with unavailable_on_failure("mark delivered"):
        Item(PK=item.PK, SK=item.SK).delete()


def dead(tid: str) -> list[OutboxItem]:
    ensure_bound()
    with unavailable_on_failure("list dead deliveries"):
        found = Item.query(keys.tenant_pk(tid), Item.SK.startswith(keys.DEAD_DELIVERY_PREFIX))
        return [item for item in found if isinstance(item, OutboxItem)]
