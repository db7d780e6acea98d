"""Orders and their commission ledger: one transaction per order event, so effects happen once.

Items are written with the low-level client: the order and each ledger entry (under the order,
`COM#{level}#{code}[#CLAWBACK]`, and mirrored under the earner, `LEDGER#{oid}#{level}[#CLAWBACK]`)
go in one `TransactWriteItems` whose first item is conditional, so a repeated delivery writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, unavailable_on_failure


@dataclass(frozen=True)
class Entry:
    """One ledger entry: positive when earned, negative when clawed back."""

    level: int
    code: str
    amount_fen: int
    available_at: str
    clawback: bool = False


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _entry_items(tid: str, oid: str, cid: str, entry: Entry, at: str) -> list[dict[str, Any]]:
    suffix = "#CLAWBACK" if entry.clawback else ""
    body = {
        "tid": _s(tid), "oid": _s(oid), "cid": _s(cid), "code": _s(entry.code), "level": _n(entry.level),
        "amount_fen": _n(entry.amount_fen), "available_at": _s(entry.available_at), "created_at": _s(at),
        "status": _s("clawed_back" if entry.clawback else "pending"),
    }  # fmt: skip
    by_order = {"PK": _s(keys.order_pk(tid, oid)), "SK": _s(keys.commission_sk(entry.level, entry.code) + suffix)}
    by_earner = {"PK": _s(keys.participant_pk(entry.code)), "SK": _s(keys.ledger_sk(oid, entry.level) + suffix)}
    return [
        {"entity": _s("commission"), **by_order, **body},
        {"entity": _s("commission_mirror"), **by_earner, **body},
    ]


def _transact(table: str, first: dict[str, Any], items: list[dict[str, Any]]) -> bool:
    """Write all or nothing; False when the first (conditional) item says it was done before."""
    ops = [first] + [
        {"Put": {"TableName": table, "Item": i, "ConditionExpression": "attribute_not_exists(PK)"}} for i in items
    ]
    try:
        with unavailable_on_failure("order"):
            dynamodb_client().transact_write_items(TransactItems=ops)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
            reasons = exc.response.get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
        raise
    return True


def record_paid(tid: str, oid: str, order: dict[str, Any], cid: str, entries: list[Entry], at: str) -> bool:
    """The order (once per tenant and order id) and its commissions; False on a repeat."""
    table = ensure_bound().table_name
    item: dict[str, dict[str, Any]] = {
        "PK": _s(keys.order_pk(tid, oid)), "SK": _s(keys.META), "entity": _s("order"), "tid": _s(tid), "oid": _s(oid),
        "cid": _s(cid), "status": _s("paid"), "paid_at": _s(at), "amount": _n(int(order["amount"])),
        "external_id": _s(str(order["external_id"])),
    }  # fmt: skip
    # The buyer's analytics facts travel with the order, so the stream counts it without another read.
    for name in ("buyer", "channel", "variant"):
        if order.get(name):
            item[name] = _s(str(order[name]))
    if order.get("invited"):
        item["invited"] = {"BOOL": True}
    if order.get("buyer"):
        # The buyer's orders by key: what a data-subject export lists and an erasure pseudonymises.
        item["GSI1PK"] = _s(keys.buyer_orders_gsi1pk(str(order["buyer"])))
        item["GSI1SK"] = _s(keys.buyer_orders_gsi1sk(at, oid))
    first = {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
    return _transact(table, first, [i for e in entries for i in _entry_items(tid, oid, cid, e, at)])


def get(tid: str, oid: str) -> dict[str, Any] | None:
    table = ensure_bound().table_name
    with unavailable_on_failure("get order"):
        found = dynamodb_client().get_item(
            TableName=table, Key={"PK": _s(keys.order_pk(tid, oid)), "SK": _s(keys.META)}, ConsistentRead=True
        )
    item = found.get("Item")
    return {k: next(iter(v.values())) for k, v in item.items()} if item else None


def entries(tid: str, oid: str) -> list[Entry]:
    """The order's positive commission entries."""
    table = ensure_bound().table_name
    with unavailable_on_failure("order ledger"):
        found = dynamodb_client().query(
            TableName=table, ConsistentRead=True, KeyConditionExpression="PK = :pk AND begins_with(SK, :com)",
            ExpressionAttributeValues={":pk": _s(keys.order_pk(tid, oid)), ":com": _s("COM#")},
        )  # fmt: skip
    return [
        Entry(int(i["level"]["N"]), i["code"]["S"], int(i["amount_fen"]["N"]), i["available_at"]["S"])
        for i in found.get("Items", [])
        if not i["SK"]["S"].endswith("#CLAWBACK")
    ]


def record_refund(tid: str, oid: str, cid: str, clawbacks: list[Entry], at: str) -> bool:
    """Status `refunded` once, with the negative entries; False if it was refunded before."""
    table = ensure_bound().table_name
    first = {
        "Update": {
            "TableName": table, "Key": {"PK": _s(keys.order_pk(tid, oid)), "SK": _s(keys.META)},
            "UpdateExpression": "SET #s = :r, refunded_at = :at", "ConditionExpression": "#s = :p",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":r": _s("refunded"), ":p": _s("paid"), ":at": _s(at)},
        }
    }  # fmt: skip
    return _transact(table, first, [i for e in clawbacks for i in _entry_items(tid, oid, cid, e, at)])


def ledger(code: str) -> list[dict[str, Any]]:
    """A participant's ledger entries (mirrors), in one query of its partition."""
    table = ensure_bound().table_name
    with unavailable_on_failure("participant ledger"):
        found = dynamodb_client().query(
            TableName=table, ConsistentRead=True, KeyConditionExpression="PK = :pk AND begins_with(SK, :l)",
            ExpressionAttributeValues={":pk": _s(keys.participant_pk(code)), ":l": _s("LEDGER#")},
        )  # fmt: skip
    return [
        {"key": i["SK"]["S"], "amount_fen": int(i["amount_fen"]["N"]), "available_at": i["available_at"]["S"]}
        for i in found.get("Items", [])
    ]


def set_member_order(gid: str, code: str, oid: str) -> bool:
    """The group member's paid order; False when the buyer is not a member of that group."""
    table = ensure_bound().table_name
    try:
        with unavailable_on_failure("member order"):
            dynamodb_client().update_item(
                TableName=table, Key={"PK": _s(keys.group_pk(gid)), "SK": _s(keys.member_sk(code))},
                UpdateExpression="SET order_id = :o", ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":o": _s(oid)},
            )  # fmt: skip
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
