"""Points ledgers, with the low-level client: every entry is written once, every redemption is one transaction.

A ledger is `T#{tid}#PTS#{uid}`: `HEAD` (a `version` that every redemption bumps) and entries `E#{source}`, each
written once (`attribute_not_exists`), so the same source never counts twice. A redemption is one transaction of
three items: HEAD conditional on the version the caller read the balance at, the catalogue item's stock taken
(conditional on `stock >= 1`, the item active and at the price read) and the debit entry (conditional on being new);
so two redemptions computed from the same balance, or the last unit of stock, can never both be written. A
revocation is written the same way without the stock: HEAD at the version read and the entry, so a redemption
checked before it cannot be written after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.loyalty.rules.points import Kind, PointsEntry
from chalicelib.table import keys
from chalicelib.table.db import cancel_codes, dynamodb_client, ensure_bound, query_all, unavailable_on_failure


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _table() -> str:
    return ensure_bound().table_name


@dataclass(frozen=True)
class Ledger:
    """A ledger read consistently: the HEAD version (0 before the first redemption) and every entry."""

    version: int
    entries: list[PointsEntry]


def _entry(item: dict[str, Any]) -> PointsEntry:
    text = {name: value["S"] for name, value in item.items() if "S" in value}
    return PointsEntry(
        source=text["source"], kind=Kind(text["kind"]), points=int(item["points"]["N"]),
        created_at=text["created_at"], explanation=text["explanation"], expires_at=text.get("expires_at"),
        cid=text.get("cid"), item_id=text.get("item_id"), reverses=text.get("reverses"),
    )  # fmt: skip


def entry_item(tid: str, uid: str, e: PointsEntry) -> dict[str, Any]:
    """The low-level item of an entry, for a transaction that writes it with something else (a check-in)."""
    item = {
        "PK": _s(keys.points_pk(tid, uid)), "SK": _s(keys.points_entry_sk(e.source)), "entity": _s("points_entry"),
        "tid": _s(tid), "uid": _s(uid), "source": _s(e.source), "kind": _s(e.kind.value), "points": _n(e.points),
        "created_at": _s(e.created_at), "explanation": _s(e.explanation),
    }  # fmt: skip
    for name, value in (("expires_at", e.expires_at), ("cid", e.cid), ("item_id", e.item_id), ("reverses", e.reverses)):
        if value is not None:
            item[name] = _s(value)
    return item


def ledger(tid: str, uid: str) -> Ledger:
    """HEAD and entries in one partition, every page, strongly consistent."""
    version, entries = 0, []
    for item in query_all("points ledger", ConsistentRead=True, KeyConditionExpression="PK = :pk",
                          ExpressionAttributeValues={":pk": _s(keys.points_pk(tid, uid))}):  # fmt: skip
        if item["SK"]["S"] == keys.POINTS_HEAD_SK:
            version = int(item["version"]["N"])
        elif item["SK"]["S"].startswith(keys.POINTS_ENTRY_PREFIX):
            entries.append(_entry(item))
    return Ledger(version, entries)


def credit(tid: str, uid: str, entry: PointsEntry) -> bool:
    """A credit, once: False when its source was credited before (a replayed record). Credits do not bump HEAD:
    one landing between a redemption's read and its write only adds to what the redemption checked."""
    try:
        with unavailable_on_failure("points entry"):
            dynamodb_client().put_item(
                TableName=_table(), Item=entry_item(tid, uid, entry), ConditionExpression="attribute_not_exists(PK)"
            )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def entry(tid: str, uid: str, source: str) -> PointsEntry | None:
    with unavailable_on_failure("points entry"):
        found = dynamodb_client().get_item(
            TableName=_table(), ConsistentRead=True,
            Key={"PK": _s(keys.points_pk(tid, uid)), "SK": _s(keys.points_entry_sk(source))},
        )  # fmt: skip
    item = found.get("Item")
    return _entry(item) if item else None


def _head(tid: str, uid: str, read_version: int, at: str) -> dict[str, Any]:
    """HEAD moved to the next version, conditional on the one read."""
    head: dict[str, Any] = {
        "TableName": _table(), "Key": {"PK": _s(keys.points_pk(tid, uid)), "SK": _s(keys.POINTS_HEAD_SK)},
        "UpdateExpression": "SET version = :next, entity = :e, updated_at = :at",
        "ExpressionAttributeValues": {":next": _n(read_version + 1), ":e": _s("points_head"), ":at": _s(at)},
    }  # fmt: skip
    if read_version == 0:
        head["ConditionExpression"] = "attribute_not_exists(PK)"
    else:
        head["ConditionExpression"] = "version = :read"
        head["ExpressionAttributeValues"][":read"] = _n(read_version)
    return head


class Redeemed(Enum):
    CREATED = "created"
    EXISTS = "exists"  # the redemption's entry was written before: a retried request
    STALE = "stale"  # the ledger changed since its balance was read: read again
    NO_STOCK = "no_stock"  # the item ran out, was switched off or repriced since it was read


def redeem(tid: str, uid: str, debit: PointsEntry, read_version: int, cost_points: int) -> Redeemed:
    """Write the debit if the ledger is still at `read_version`, the item still has stock at `cost_points`, and
    the debit's source is new."""
    if debit.item_id is None or debit.kind is not Kind.REDEMPTION:
        raise ValueError("a redemption debits a catalogue item")
    table = _table()
    head = _head(tid, uid, read_version, debit.created_at)
    stock = {
        "TableName": table,
        "Key": {"PK": _s(keys.loyalty_catalogue_pk(tid)), "SK": _s(keys.loyalty_item_sk(debit.item_id))},
        "UpdateExpression": "SET stock = stock - :one, updated_at = :at",
        "ConditionExpression": "attribute_exists(PK) AND stock >= :one AND active = :yes AND cost_points = :cost",
        "ExpressionAttributeValues": {":one": _n(1), ":yes": {"BOOL": True}, ":cost": _n(cost_points),
                                      ":at": _s(debit.created_at)},
    }  # fmt: skip
    ops = [
        {"Update": head},
        {"Update": stock},
        {"Put": {"TableName": table, "Item": entry_item(tid, uid, debit),
                 "ConditionExpression": "attribute_not_exists(PK)"}},
    ]  # fmt: skip
    try:
        with unavailable_on_failure("redemption"):
            dynamodb_client().transact_write_items(TransactItems=ops)
    except ClientError as exc:
        reasons = cancel_codes(exc)
        if reasons is None:
            raise
        if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
            return Redeemed.EXISTS
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            return Redeemed.NO_STOCK
        if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
            return Redeemed.STALE
        raise
    return Redeemed.CREATED


def revoke(tid: str, uid: str, debit: PointsEntry, read_version: int) -> Redeemed:
    """Write a revocation if the ledger is still at `read_version` and the revocation's source is new: CREATED,
    EXISTS (written before: a redelivered record) or STALE (read again)."""
    if debit.kind is not Kind.REVOCATION or debit.reverses is None:
        raise ValueError("a revocation takes back a credit")
    table = _table()
    ops = [
        {"Update": _head(tid, uid, read_version, debit.created_at)},
        {"Put": {"TableName": table, "Item": entry_item(tid, uid, debit),
                 "ConditionExpression": "attribute_not_exists(PK)"}},
    ]  # fmt: skip
    try:
        with unavailable_on_failure("points revocation"):
            dynamodb_client().transact_write_items(TransactItems=ops)
    except ClientError as exc:
        reasons = cancel_codes(exc)
        if reasons is None:
            raise
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            return Redeemed.EXISTS
        if "ConditionalCheckFailed" in reasons or "TransactionConflict" in reasons:
            return Redeemed.STALE
        raise
    return Redeemed.CREATED
