"""The message outbox, its per-tenant listing, daily cap counters, messaging settings and opt-outs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import QueryError, UpdateError
from pynamodb.expressions.condition import Condition

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest
from chalicelib.messaging.rules.messages import OPEN_STATUSES, shard_of
from chalicelib.messaging.rules.records import MessageRecord
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
from chalicelib.table.models import (
    Item,
    MessageCapItem,
    MessageItem,
    MessagingSettingsItem,
    SubscriptionItem,
)


@dataclass(frozen=True)
class Page:
    items: list[MessageRecord]
    cursor: str | None


# --- settings -------------------------------------------------------------------------------------


def get_settings(tid: str) -> dict[str, Any] | None:
    item = get_entity(MessagingSettingsItem, keys.tenant_pk(tid), keys.MESSAGING_SETTINGS_SK, consistent=True)
    return dict(item.settings) if item is not None else None


def put_settings(tid: str, settings: dict[str, Any], updated_at: str) -> None:
    ensure_bound()
    item = MessagingSettingsItem(
        PK=keys.tenant_pk(tid), SK=keys.MESSAGING_SETTINGS_SK, tid=tid, settings=settings, updated_at=updated_at
    )
    with unavailable_on_failure("save messaging settings"):
        item.save()


# --- messages -------------------------------------------------------------------------------------

_OPTIONAL = (
    "reason", "subject", "template", "address_enc", "endpoint", "automation_id", "sent_at", "last_error",
    "masked_text", "masked_subject",
)  # fmt: skip


def _item(rec: MessageRecord, version: int) -> MessageItem:
    """The whole item for `rec`: listed under its tenant by creation time, and in the due index only while open,
    at the end of a run's lease when one holds it, else at `due_at`."""
    item = MessageItem(
        PK=keys.message_pk(rec.mid), SK=keys.META,
        GSI1PK=keys.tenant_messages_gsi1pk(rec.tid), GSI1SK=keys.tenant_messages_gsi1sk(rec.created_at, rec.mid),
        tid=rec.tid, mid=rec.mid, uid=rec.uid, channel=rec.channel, status=rec.status, text=rec.text,
        locale=rec.locale, data=rec.data, attempts=rec.attempts, due_at=rec.due_at, created_at=rec.created_at,
        expires_at=rec.expires_at, version=version, **{name: getattr(rec, name) for name in _OPTIONAL},
    )  # fmt: skip
    if rec.status in OPEN_STATUSES:
        item.GSI2PK = keys.messages_due_gsi2pk(shard_of(rec.mid))
        item.GSI2SK = keys.messages_due_gsi2sk(rec.lease_until or rec.due_at, rec.mid)
    return item


def _record(item: MessageItem) -> MessageRecord:
    position = item.GSI2SK.split("#", 1)[0] if item.GSI2SK else None
    return MessageRecord(
        tid=item.tid, mid=item.mid, uid=item.uid, channel=item.channel, status=item.status, text=item.text,
        locale=item.locale, due_at=item.due_at, created_at=item.created_at,
        data=dict(item.data) if item.data is not None else None, attempts=int(item.attempts or 0),
        lease_until=position if position != item.due_at else None,
        expires_at=int(item.expires_at) if item.expires_at is not None else None, version=int(item.version),
        **{name: getattr(item, name) for name in _OPTIONAL},
    )  # fmt: skip


def add(rec: MessageRecord) -> bool:
    """Queue a new message at `rec.version`; False when a message with this id exists already: a repeated
    enqueue changes nothing."""
    ensure_bound()
    return save_if(_item(rec, rec.version), Item.PK.does_not_exist(), "enqueue message")


def get(mid: str) -> MessageRecord | None:
    item = get_entity(MessageItem, keys.message_pk(mid), keys.META, consistent=True)
    return _record(item) if item is not None else None


def due(shard: int, until: str, limit: int) -> list[str]:
    """Ids of open messages of one shard due by `until`: one key-range query on the sparse index, never a scan.

    The index is eventually consistent: callers re-read each message before acting on it."""
    ensure_bound()
    with unavailable_on_failure("read message outbox"):
        found = Item.gsi2.query(keys.messages_due_gsi2pk(shard), Item.GSI2SK <= f"{until}#~", limit=limit)
        return [item.mid for item in found if isinstance(item, MessageItem)]


def replace(rec: MessageRecord) -> bool:
    """Write `rec` as the next version unless someone else changed the message since `rec.version` was read.

    On success `rec.version` is the stored one, so the same record can be written again."""
    ensure_bound()
    if not save_if(_item(rec, rec.version + 1), MessageItem.version == rec.version, "update message"):
        return False
    rec.version += 1
    return True


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    return encode_cursor(key) if key else None


def list_for_tenant(
    tid: str, *, limit: int, cursor: str | None, status: str | None = None, channel: str | None = None
) -> Page:
    """Newest first, filtered; a page may hold fewer than `limit` items while `cursor` is not None."""
    ensure_bound()
    gsi1pk = keys.tenant_messages_gsi1pk(tid)
    start = decode_cursor(cursor, gsi1pk) if cursor else None
    condition: Condition | None = None
    if status:
        condition = MessageItem.status == status
    if channel:
        by_channel = MessageItem.channel == channel
        condition = by_channel if condition is None else condition & by_channel
    try:
        with unavailable_on_failure("list messages"):
            result = Item.gsi1.query(
                gsi1pk, scan_index_forward=False, limit=limit, last_evaluated_key=start,
                filter_condition=condition, page_size=limit,
            )  # fmt: skip
            items = [_record(i) for i in result if isinstance(i, MessageItem)]
            last = result.last_evaluated_key
    except QueryError as exc:
        if getattr(exc, "cause_response_code", None) == "ValidationException":
            raise BadRequest("the cursor is not one this listing returned", code=Code.INVALID_CURSOR) from exc
        raise
    return Page(items=items, cursor=_encode_cursor(last))


# --- daily caps -----------------------------------------------------------------------------------


def _cap_item(tid: str, who: str, channel: str, day: str, *, address: bool) -> MessageCapItem:
    pk = keys.message_address_cap_pk(tid, who) if address else keys.message_cap_pk(tid, who)
    return MessageCapItem(PK=pk, SK=keys.message_cap_sk(channel, day))


def take_slot(tid: str, who: str, channel: str, day: str, cap: int, expires_at: int, *, address: bool = False) -> bool:
    """Count one send against the day's cap of a person (`who` a uid), or of a phone number or email address (`who`
    its keyed hash, `address`); False (and nothing counted) when it is reached. One conditional update: two runs
    can never both take the last slot."""
    ensure_bound()
    item = _cap_item(tid, who, channel, day, address=address)
    try:
        with unavailable_on_failure("count message"):
            item.update(
                actions=[
                    MessageCapItem.sent.add(1),
                    MessageCapItem.entity.set(MessageCapItem),
                    MessageCapItem.expires_at.set(expires_at),
                ],
                condition=MessageCapItem.sent.does_not_exist() | (MessageCapItem.sent < cap),
            )
    except UpdateError as exc:
        if is_condition_failure(exc):
            return False
        raise
    return True


def give_back_slot(tid: str, who: str, channel: str, day: str, *, address: bool = False) -> None:
    """Undo `take_slot` for a send that failed or was not made: a failure never uses up a day."""
    ensure_bound()
    item = _cap_item(tid, who, channel, day, address=address)
    with unavailable_on_failure("uncount message"):
        item.update(actions=[MessageCapItem.sent.add(-1)], condition=MessageCapItem.sent > 0)


def sent_today(tid: str, uid: str, channel: str, day: str) -> int:
    item = get_entity(MessageCapItem, keys.message_cap_pk(tid, uid), keys.message_cap_sk(channel, day))
    return int(item.sent or 0) if item is not None else 0


# --- subscriptions --------------------------------------------------------------------------------


def unsubscribed(tid: str, uid: str) -> set[str]:
    item = get_entity(SubscriptionItem, keys.profile_pk(tid, uid), keys.UNSUBSCRIBE_SK, consistent=True)
    return set(item.unsubscribed or ()) if item is not None else set()


def set_unsubscribed(tid: str, uid: str, channels: set[str], updated_at: str) -> None:
    ensure_bound()
    item = SubscriptionItem(
        PK=keys.profile_pk(tid, uid), SK=keys.UNSUBSCRIBE_SK, tid=tid, uid=uid,
        unsubscribed=channels or None, updated_at=updated_at,
    )  # fmt: skip
    with unavailable_on_failure("save subscriptions"):
        item.save()


def add_unsubscribed(tid: str, uid: str, channel: str, updated_at: str) -> None:
    """Add one channel to the opt-outs; a set union, so a repeated click changes nothing."""
    ensure_bound()
    item = SubscriptionItem(PK=keys.profile_pk(tid, uid), SK=keys.UNSUBSCRIBE_SK)
    with unavailable_on_failure("unsubscribe"):
        item.update(
            actions=[
                SubscriptionItem.unsubscribed.add({channel}),
                SubscriptionItem.entity.set(SubscriptionItem),
                SubscriptionItem.tid.set(tid),
                SubscriptionItem.uid.set(uid),
                SubscriptionItem.updated_at.set(updated_at),
            ]
        )
