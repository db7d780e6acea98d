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

from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, unavailable_on_failure

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
    table = ensure_bound().table_name
    found: list[dict[str, Any]] = []
    start: dict[str, Any] | None = None
    with unavailable_on_failure(what):
        while True:
            page = dynamodb_client().query(TableName=table, **params, **({"ExclusiveStartKey": start} if start else {}))
            found += [_item(i) for i in page.get("Items", [])]
            start = page.get("LastEvaluatedKey")
            if not start:
                return found


def partition(code: str) -> list[dict[str, Any]]:
    """Every item under `P#{code}`: the participant, rewards, ledger mirrors, assist and help counts."""
    return _query(
        "participant partition",
        ConsistentRead=True,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.participant_pk(code)}},
    )


def _by_gsi1(what: str, pk: str) -> list[dict[str, Any]]:
    return _query(
        what, IndexName="GSI1", KeyConditionExpression="GSI1PK = :pk", ExpressionAttributeValues={":pk": {"S": pk}}
    )


def buyer_orders(code: str) -> list[dict[str, Any]]:
    """The orders the participant paid for (index reads are eventually consistent: a second old at most)."""
    return [i for i in _by_gsi1("buyer orders", keys.buyer_orders_gsi1pk(code)) if i.get("entity") == "order"]


def memberships(code: str) -> list[dict[str, Any]]:
    """The participant's group member items."""
    return [
        i for i in _by_gsi1("group memberships", keys.member_groups_gsi1pk(code)) if i.get("entity") == "group_member"
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


def begin_erasure(code: str, at: str, poster_keys: set[str]) -> dict[str, Any] | None:
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
    return _update(
        "erase participant",
        keys.participant_pk(code),
        keys.META,
        expression,
        ExpressionAttributeValues=values,
        ReturnValues="ALL_NEW",
    )


def strip_claim(code: str, rule: str) -> None:
    """Remove a claimed reward's encrypted delivery details; the reward itself stays for the books."""
    _update("erase claim", keys.participant_pk(code), keys.reward_sk(rule), "REMOVE claim_enc")


def pseudonymise_order(pk: str, sk: str, pseudonym: str) -> None:
    """Replace an order's merchant user id with the participant's keyed identity hash."""
    _update(
        "erase order",
        pk,
        sk,
        "SET external_id = :p",
        ExpressionAttributeValues={":p": {"S": pseudonym}},
    )


def strip_member_nickname(pk: str, sk: str) -> None:
    """Remove the nickname copied onto a group member item (the group view then shows `*`)."""
    _update("erase group member", pk, sk, "REMOVE nickname")


def finish_erasure(code: str, at: str) -> str | None:
    """Record that every step is done: `erased_at` (kept on a repeat) and the poster keys dropped."""
    found = _update(
        "finish erasure",
        keys.participant_pk(code),
        keys.META,
        "SET erased_at = if_not_exists(erased_at, :at) REMOVE poster_keys",
        ExpressionAttributeValues={":at": {"S": at}},
        ReturnValues="ALL_NEW",
    )
    return None if found is None else str(found["erased_at"])
