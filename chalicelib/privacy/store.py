"""Data-subject export and erasure: the reads that gather one participant's items, and the writes
that strip them (docs/privacy.md).

Every write is a conditional `UpdateItem` that sets or removes named attributes, never a put: a
concurrent writer of other attributes (the stream adding to `counted`, a reward being issued) is
never overwritten, and repeating a write leaves the item as it was.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import ClientError

from chalicelib.privacy.rules import (
    AssistState,
    BuyerOrder,
    CommissionEntry,
    HelpsDay,
    Membership,
    SubjectPartition,
    Tombstone,
)
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, query_all, unavailable_on_failure

# The participant item's personal attributes: removed by the first erasure step.
PERSONAL_FIELDS = (
    "nickname", "avatar_url", "phone_enc", "phone_hash", "device_id", "attribution",
    # Fraud signals: hashes of network, payment and device facts about the person and their ancestors.
    "ip_hash", "payment_hash", "lineage", "risk_reasons",
    # Profile facts: the person's contact ciphertext and birthday (the profile forgets them in the stream).
    "contact_enc", "birthday",
)  # fmt: skip

_deserializer = TypeDeserializer()


def _plain(value: Any) -> Any:
    """DynamoDB's numbers as ints (every number this table stores is whole), sets as sorted lists."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _item(raw: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(_deserializer.deserialize(value)) for name, value in raw.items()}


def _query(what: str, **params: Any) -> list[dict[str, Any]]:
    return [_item(i) for i in query_all(what, **params)]


def _commission(item: dict[str, Any]) -> CommissionEntry:
    return CommissionEntry(
        order_id=item.get("oid"),
        level=item.get("level"),
        amount_fen=item.get("amount_fen"),
        status=item.get("status"),
        available_at=item.get("available_at"),
        created_at=item.get("created_at"),
    )


_ASSIST_FIELDS = (
    "goal", "target", "helpers_required", "slots", "original_price", "floor_price", "started_at", "deadline",
)  # fmt: skip


def _assist(item: dict[str, Any]) -> AssistState:
    return AssistState(**{name: item.get(name) for name in _ASSIST_FIELDS})


def partition(code: str) -> SubjectPartition:
    """What lies under `P#{code}` beside the participant and their rewards: ledger mirrors (in sort
    key order), their assist and their daily help counts (one consistent read, every page)."""
    items = _query(
        "participant partition",
        ConsistentRead=True,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.participant_pk(code)}},
    )
    mirrors = sorted((i for i in items if i.get("entity") == "commission_mirror"), key=lambda i: str(i["SK"]))
    assist = next((i for i in items if i.get("entity") == "assist"), None)
    return SubjectPartition(
        commission=[_commission(i) for i in mirrors],
        assist=_assist(assist) if assist is not None else None,
        helps=[HelpsDay(day=i.get("day"), helps=i.get("helps")) for i in items if i.get("entity") == "assist_helps"],
    )


def _by_gsi1(what: str, pk: str) -> list[dict[str, Any]]:
    return _query(
        what, IndexName="GSI1", KeyConditionExpression="GSI1PK = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )


def buyer_orders(code: str) -> list[BuyerOrder]:
    """The orders the participant paid for (index reads are eventually consistent: a second old at most)."""
    return [
        BuyerOrder(
            tid=str(i["tid"]),
            oid=str(i["oid"]),
            external_id=i.get("external_id"),
            status=i.get("status"),
            amount=i.get("amount"),
            paid_at=i.get("paid_at"),
            refunded_at=i.get("refunded_at"),
        )
        for i in _by_gsi1("buyer orders", keys.buyer_orders_gsi1pk(code))
        if i.get("entity") == "order"
    ]


def memberships(code: str) -> list[Membership]:
    """The participant's group memberships."""
    return [
        Membership(
            gid=str(i["gid"]),
            code=str(i["code"]),
            leader=bool(i.get("leader")),
            joined_at=i.get("joined_at"),
            order_id=i.get("order_id"),
            nickname=i.get("nickname"),
        )
        for i in _by_gsi1("group memberships", keys.member_groups_gsi1pk(code))
        if i.get("entity") == "group_member"
    ]


def _update(what: str, pk: str, sk: str, expression: str, **params: Any) -> dict[str, Any] | None:
    """One conditional update of an existing item; None when the item is not there (nothing to strip)."""
    table = ensure_bound().table_name
    try:
        with unavailable_on_failure(what):
            answer = dynamodb_client().update_item(
                TableName=table,
                Key={"PK": {"S": pk}, "SK": {"S": sk}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(PK)",
                **params,
            )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    attributes = answer.get("Attributes")
    return _item(attributes) if attributes else {}


def begin_erasure(code: str, at: str, poster_keys: set[str]) -> Tombstone | None:
    """Mark the participant as being erased and strip their personal attributes, in one update.

    `erasing_at` keeps its first value on a retry; `poster_keys` (hashes, not personal) are added
    only on the first attempt, while the nickname they were computed from still existed. Returns
    the tombstone as it now is, or None when there is no such participant.
    """
    expression = "SET erasing_at = if_not_exists(erasing_at, :at)"
    values: dict[str, Any] = {":at": {"S": at}}
    if poster_keys:
        expression += " ADD poster_keys :posters"
        values[":posters"] = {"SS": sorted(poster_keys)}
    expression += " REMOVE " + ", ".join(PERSONAL_FIELDS)
    found = _update(
        "erase participant",
        keys.participant_pk(code),
        keys.META,
        expression,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )
    if found is None:
        return None
    return Tombstone(erasing_at=str(found["erasing_at"]), poster_keys=frozenset(found.get("poster_keys") or ()))


def strip_claim(code: str, rule: str) -> None:
    """Remove a claimed reward's encrypted delivery details; the reward itself stays for the books."""
    _update("erase claim", keys.participant_pk(code), keys.reward_sk(rule), "REMOVE claim_enc")


def pseudonymise_order(order: BuyerOrder, pseudonym: str) -> None:
    """Replace an order's merchant user id with the participant's keyed identity hash."""
    _update(
        "erase order",
        keys.order_pk(order.tid, order.oid),
        keys.META,
        "SET external_id = :p",
        ExpressionAttributeValues={":p": {"S": pseudonym}},
    )


def strip_member_nickname(member: Membership) -> None:
    """Remove the nickname copied onto a group member item (the group view then shows `*`)."""
    _update("erase group member", keys.group_pk(member.gid), keys.member_sk(member.code), "REMOVE nickname")


def finish_erasure(code: str, at: str) -> str | None:
    """Record that every step is done: `erased_at` (kept on a repeat), the poster keys dropped and every
    token revoked (the token version moves on)."""
    found = _update(
        "finish erasure",
        keys.participant_pk(code),
        keys.META,
        "SET erased_at = if_not_exists(erased_at, :at), token_version = if_not_exists(token_version, :zero) + :one "
        "REMOVE poster_keys",
        ExpressionAttributeValues={":at": {"S": at}, ":zero": {"N": "0"}, ":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    )
    return None if found is None else str(found["erased_at"])
