"""Orders and their commission ledger: one transaction per order event, so effects happen once.

Items are written with the low-level client: the order and each ledger entry (under the order,
`COM#{level}#{code}[#CLAWBACK]`, and mirrored under the earner, `LEDGER#{oid}#{level}[#CLAWBACK]`)
go in one `TransactWriteItems` whose first item is conditional, so a repeated delivery writes nothing.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from chalicelib.modes.distribution.rules.records import Entry, LedgerEntry, OrderRecord
from chalicelib.table import keys
from chalicelib.table.db import cancel_codes, dynamodb_client, ensure_bound, query_all, unavailable_on_failure


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
        reasons = cancel_codes(exc)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False
        raise
    return True


def record_paid(tid: str, order: OrderRecord, entries: list[Entry], at: str) -> bool:
    """The order (once per tenant and order id) and its commissions; False on a repeat."""
    table = ensure_bound().table_name
    oid = order.oid
    item: dict[str, dict[str, Any]] = {
        "PK": _s(keys.order_pk(tid, oid)), "SK": _s(keys.META), "entity": _s("order"), "tid": _s(tid), "oid": _s(oid),
        "cid": _s(order.cid), "status": _s("paid"), "paid_at": _s(at), "amount": _n(order.amount),
        "external_id": _s(order.external_id),
    }  # fmt: skip
    # The buyer's analytics facts travel with the order, so the stream counts it without another read.
    for name, value in (("buyer", order.buyer), ("channel", order.channel), ("variant", order.variant)):
        if value:
            item[name] = _s(value)
    if order.invited:
        item["invited"] = {"BOOL": True}
    if order.buyer:
        # The buyer's orders by key: what a data-subject export lists and an erasure pseudonymises.
        item["GSI1PK"] = _s(keys.buyer_orders_gsi1pk(order.buyer))
        item["GSI1SK"] = _s(keys.buyer_orders_gsi1sk(at, oid))
    first = {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(PK)"}}
    return _transact(table, first, [i for e in entries for i in _entry_items(tid, oid, order.cid, e, at)])


def get(tid: str, oid: str) -> OrderRecord | None:
    table = ensure_bound().table_name
    with unavailable_on_failure("get order"):
        found = dynamodb_client().get_item(
            TableName=table, Key={"PK": _s(keys.order_pk(tid, oid)), "SK": _s(keys.META)}, ConsistentRead=True
        )
    item = found.get("Item")
    if not item:
        return None
    text = {name: value["S"] for name, value in item.items() if "S" in value}
    return OrderRecord(
        oid=text["oid"], cid=text["cid"], amount=int(item["amount"]["N"]), external_id=text["external_id"],
        status=text["status"], buyer=text.get("buyer"), channel=text.get("channel"), variant=text.get("variant"),
        invited=bool(item.get("invited", {}).get("BOOL")),
    )  # fmt: skip


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


def ledger(code: str, *, consistent: bool = True) -> list[LedgerEntry]:
    """A participant's commission ledger entries (mirrors under `P#{code}`), in sort-key order, every page."""
    found = query_all(
        "participant ledger", ConsistentRead=consistent, KeyConditionExpression="PK = :pk AND begins_with(SK, :l)",
        ExpressionAttributeValues={":pk": _s(keys.participant_pk(code)), ":l": _s(keys.LEDGER_PREFIX)},
    )  # fmt: skip
    return [
        LedgerEntry(
            key=i["SK"]["S"],
            level=int(i["level"]["N"]) if "level" in i else None,
            amount_fen=int(i["amount_fen"]["N"]) if "amount_fen" in i else None,
            available_at=i["available_at"]["S"] if "available_at" in i else None,
        )
        for i in found
    ]
