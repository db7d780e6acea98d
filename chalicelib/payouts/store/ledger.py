"""Wallets and withdrawals, with the low-level client: every money movement is one transaction.

A wallet is `T#{tid}#W#{uid}`: `HEAD` (a `version` that every withdrawal request bumps) and entries `E#...`,
each written once (`attribute_not_exists`). A request is one transaction of three items: HEAD conditional on the
version the caller read its balance at, the withdrawal (`T#{tid}#WD#{wid}` / `META`, conditional on being new)
and its wallet entry; so two requests computed from the same balance can never both be written. A change of
status is one transaction too: the withdrawal conditional on its current status (its GSI1 key moves with it),
plus the `#PAID` or `#RETURN` entry when the change moves money.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.payouts.rules.records import WithdrawalRecord
from chalicelib.payouts.rules.risk import MAX_DESTINATION_WALLETS
from chalicelib.payouts.rules.wallet import PAID_SUFFIX, RETURN_SUFFIX, WalletEntry
from chalicelib.table import keys
from chalicelib.table.db import (
    cancel_codes,
    decode_cursor,
    dynamodb_client,
    encode_cursor,
    ensure_bound,
    query_all,
    unavailable_on_failure,
)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _table() -> str:
    return ensure_bound().table_name


# --- wallets -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Wallet:
    """A wallet read consistently: the HEAD version (0 before the first request) and every entry."""

    version: int
    entries: list[WalletEntry]


def _entry(item: dict[str, Any]) -> WalletEntry:
    get = item.get
    return WalletEntry(
        key=item["SK"]["S"], amount_fen=int(item["amount_fen"]["N"]), created_at=item["created_at"]["S"],
        available_at=get("available_at", {}).get("S"), cid=get("cid", {}).get("S"), oid=get("oid", {}).get("S"),
        level=int(item["level"]["N"]) if "level" in item else None,
    )  # fmt: skip


def wallet(tid: str, uid: str) -> Wallet:
    """HEAD and entries in one partition, every page, strongly consistent."""
    version, entries = 0, []
    for item in query_all("wallet", ConsistentRead=True, KeyConditionExpression="PK = :pk",
                          ExpressionAttributeValues={":pk": _s(keys.wallet_pk(tid, uid))}):  # fmt: skip
        if item["SK"]["S"] == keys.WALLET_HEAD_SK:
            version = int(item["version"]["N"])
        elif item["SK"]["S"].startswith(keys.WALLET_ENTRY_PREFIX):
            entries.append(_entry(item))
    return Wallet(version, entries)


def credit(tid: str, uid: str, *, oid: str, level: int, clawback: bool, amount_fen: int, available_at: str,
           cid: str, code: str, at: str) -> bool:  # fmt: skip
    """A commission (or its clawback) entry, once: False when it was written before (a replayed record)."""
    item = {
        "PK": _s(keys.wallet_pk(tid, uid)), "SK": _s(keys.wallet_commission_sk(oid, level, clawback=clawback)),
        "entity": _s("wallet_entry"), "tid": _s(tid), "uid": _s(uid), "amount_fen": _n(amount_fen),
        "available_at": _s(available_at), "cid": _s(cid), "oid": _s(oid), "level": _n(level), "code": _s(code),
        "created_at": _s(at),
    }  # fmt: skip
    try:
        with unavailable_on_failure("wallet entry"):
            dynamodb_client().put_item(TableName=_table(), Item=item, ConditionExpression="attribute_not_exists(PK)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


# --- withdrawals ---------------------------------------------------------------------------------------------


class Requested(Enum):
    CREATED = "created"
    EXISTS = "exists"  # the withdrawal id was written before: a retried request
    STALE = "stale"  # the wallet changed since its balance was read: read again


def _withdrawal_item(w: WithdrawalRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": _s(keys.withdrawal_pk(w.tid, w.wid)), "SK": _s(keys.META), "entity": _s("withdrawal"),
        "tid": _s(w.tid), "wid": _s(w.wid), "uid": _s(w.uid), "cid": _s(w.cid), "amount_fen": _n(w.amount_fen),
        "fee_fen": _n(w.fee_fen), "net_fen": _n(w.net_fen), "method": _s(w.method),
        "destination_enc": _s(w.destination_enc), "destination_hint": _s(w.destination_hint), "status": _s(w.status),
        "created_at": _s(w.created_at), "updated_at": _s(w.updated_at), "request_hash": _s(w.request_hash),
        "attempts": _n(w.attempts),
        "GSI1PK": _s(keys.withdrawals_by_status_gsi1pk(w.tid, w.status)),
        "GSI1SK": _s(keys.withdrawals_by_status_gsi1sk(w.created_at, w.wid)),
    }  # fmt: skip
    if w.name_enc:
        item["name_enc"] = _s(w.name_enc)
    if w.destination_index:
        item["destination_index"] = _s(w.destination_index)
    if w.flags:
        item["flags"] = {"SS": sorted(w.flags)}
    return item


def _record(item: dict[str, Any]) -> WithdrawalRecord:
    text = {name: value["S"] for name, value in item.items() if "S" in value}
    return WithdrawalRecord(
        tid=text["tid"], wid=text["wid"], uid=text["uid"], cid=text["cid"], amount_fen=int(item["amount_fen"]["N"]),
        fee_fen=int(item["fee_fen"]["N"]), net_fen=int(item["net_fen"]["N"]), method=text["method"],
        destination_enc=text.get("destination_enc", ""),  # none after an erasure (docs/privacy.md)
        destination_hint=text["destination_hint"], status=text["status"],
        created_at=text["created_at"], updated_at=text["updated_at"], name_enc=text.get("name_enc"),
        request_hash=text.get("request_hash", ""), provider_ref=text.get("provider_ref"), reason=text.get("reason"),
        attempts=int(item.get("attempts", {}).get("N", "0")), submitted_at=text.get("submitted_at"),
        decided_by=text.get("decided_by"), destination_index=text.get("destination_index"),
        flags=tuple(sorted(item.get("flags", {}).get("SS", []))),
        approved_flags=tuple(f for f in text.get("approved_flags", "").split(",") if f),
    )  # fmt: skip


@dataclass(frozen=True)
class Destination:
    """The wallets that withdrew to one destination (at most `MAX_DESTINATION_WALLETS`), read with its version."""

    digest: str
    version: int
    wallets: frozenset[str]


def destination(tid: str, digest: str) -> Destination:
    with unavailable_on_failure("payout destination"):
        found = dynamodb_client().get_item(
            TableName=_table(), Key={"PK": _s(keys.payout_destination_pk(tid, digest)), "SK": _s(keys.META)},
            ConsistentRead=True,
        )  # fmt: skip
    item = found.get("Item") or {}
    return Destination(
        digest, int(item.get("version", {}).get("N", "0")), frozenset(item.get("wallets", {}).get("SS", []))
    )


def destination_counts(tid: str, digests: Iterable[str]) -> dict[str, int]:
    """How many wallets withdrew to each destination (one BatchGetItem per 100; eventually consistent)."""
    wanted = list(dict.fromkeys(digests))
    out: dict[str, int] = {}
    table = _table()
    for start in range(0, len(wanted), 100):
        pending: dict[str, Any] = {
            table: {"Keys": [{"PK": _s(keys.payout_destination_pk(tid, d)), "SK": _s(keys.META)}
                             for d in wanted[start : start + 100]]}
        }  # fmt: skip
        while pending:
            with unavailable_on_failure("payout destinations"):
                page = dynamodb_client().batch_get_item(RequestItems=pending)
            for item in page.get("Responses", {}).get(table, []):
                out[item["digest"]["S"]] = len(item.get("wallets", {}).get("SS", []))
            pending = page.get("UnprocessedKeys") or {}
    return out


def _destination_op(w: WithdrawalRecord, read: Destination) -> dict[str, Any]:
    """The request's write on its destination's item, conditional on the version read: two wallets asking at
    the same moment cannot both have read the other absent (the loser reads again and is flagged). The wallet
    is added unless it is there already or the list is full; then the version is only checked."""
    key = {"PK": _s(keys.payout_destination_pk(w.tid, read.digest)), "SK": _s(keys.META)}
    values: dict[str, Any] = {}
    if read.version == 0:
        condition = "attribute_not_exists(PK)"
    else:
        condition, values[":read"] = "version = :read", _n(read.version)
    if w.uid in read.wallets or len(read.wallets) >= MAX_DESTINATION_WALLETS:
        return {"ConditionCheck": {"TableName": _table(), "Key": key, "ConditionExpression": condition,
                                   **({"ExpressionAttributeValues": values} if values else {})}}  # fmt: skip
    values |= {":next": _n(read.version + 1), ":w": {"SS": [w.uid]}, ":d": _s(read.digest),
               ":e": _s("payout_destination"), ":tid": _s(w.tid), ":at": _s(w.created_at)}  # fmt: skip
    return {"Update": {
        "TableName": _table(), "Key": key, "ConditionExpression": condition,
        "UpdateExpression": "SET version = :next, digest = :d, entity = :e, tid = :tid, updated_at = :at"
        " ADD wallets :w",
        "ExpressionAttributeValues": values,
    }}  # fmt: skip


def request(w: WithdrawalRecord, read_version: int, read_destination: Destination | None = None) -> Requested:
    """Write the request if the wallet is still at `read_version` and the withdrawal id is new (and, with
    `read_destination`, the destination's item is still as read)."""
    table = _table()
    head_key = {"PK": _s(keys.wallet_pk(w.tid, w.uid)), "SK": _s(keys.WALLET_HEAD_SK)}
    head: dict[str, Any] = {
        "TableName": table, "Key": head_key, "UpdateExpression": "SET version = :next, entity = :e, updated_at = :at",
        "ExpressionAttributeValues": {":next": _n(read_version + 1), ":e": _s("wallet_head"), ":at": _s(w.created_at)},
    }  # fmt: skip
    if read_version == 0:
        head["ConditionExpression"] = "attribute_not_exists(PK)"
    else:
        head["ConditionExpression"] = "version = :read"
        head["ExpressionAttributeValues"][":read"] = _n(read_version)
    entry = {
        **head_key, "SK": _s(keys.wallet_withdrawal_sk(w.wid)), "entity": _s("wallet_entry"), "tid": _s(w.tid),
        "uid": _s(w.uid), "amount_fen": _n(-w.amount_fen), "created_at": _s(w.created_at), "cid": _s(w.cid),
    }  # fmt: skip
    new = "attribute_not_exists(PK)"
    ops = [
        {"Update": head},
        {"Put": {"TableName": table, "Item": _withdrawal_item(w), "ConditionExpression": new}},
        {"Put": {"TableName": table, "Item": entry, "ConditionExpression": new}},
    ]
    if read_destination is not None:
        ops.append(_destination_op(w, read_destination))
    try:
        with unavailable_on_failure("withdrawal request"):
            dynamodb_client().transact_write_items(TransactItems=ops)
    except ClientError as exc:
        reasons = cancel_codes(exc)
        if reasons is None:
            raise
        if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
            return Requested.EXISTS
        if len(reasons) > 3 and reasons[3] == "ConditionalCheckFailed":
            return Requested.STALE  # another wallet withdrew to this destination meanwhile: read it again
        if reasons and reasons[0] in ("ConditionalCheckFailed", "TransactionConflict"):
            return Requested.STALE
        if "TransactionConflict" in reasons:
            return Requested.STALE
        raise
    return Requested.CREATED


def get(tid: str, wid: str) -> WithdrawalRecord | None:
    with unavailable_on_failure("withdrawal"):
        found = dynamodb_client().get_item(
            TableName=_table(), Key={"PK": _s(keys.withdrawal_pk(tid, wid)), "SK": _s(keys.META)}, ConsistentRead=True
        )
    item = found.get("Item")
    return _record(item) if item else None


def get_many(tid: str, wids: Iterable[str]) -> list[WithdrawalRecord]:
    """The withdrawals that exist among `wids` (any order)."""
    wanted = list(dict.fromkeys(wids))
    out: list[WithdrawalRecord] = []
    table = _table()
    for start in range(0, len(wanted), 100):
        pending: dict[str, Any] = {
            table: {
                "Keys": [
                    {"PK": _s(keys.withdrawal_pk(tid, w)), "SK": _s(keys.META)} for w in wanted[start : start + 100]
                ],
                "ConsistentRead": True,
            }
        }
        while pending:
            with unavailable_on_failure("withdrawals"):
                page = dynamodb_client().batch_get_item(RequestItems=pending)
            out += [_record(i) for i in page.get("Responses", {}).get(table, [])]
            pending = page.get("UnprocessedKeys") or {}
    return out


def by_status(
    tid: str, status: str, limit: int, cursor: str | None = None
) -> tuple[list[WithdrawalRecord], str | None]:
    """A page of the tenant's withdrawals in `status`, oldest first (GSI1, eventually consistent)."""
    pk = keys.withdrawals_by_status_gsi1pk(tid, status)
    request: dict[str, Any] = {
        "TableName": _table(), "IndexName": "GSI1", "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": _s(pk)}, "Limit": limit,
    }  # fmt: skip
    if cursor:
        request["ExclusiveStartKey"] = decode_cursor(cursor, pk)
    with unavailable_on_failure("withdrawal queue"):
        page = dynamodb_client().query(**request)
    last = page.get("LastEvaluatedKey")
    return [_record(i) for i in page.get("Items", [])], encode_cursor(last) if last else None


def move(
    w: WithdrawalRecord, sources: Iterable[str], target: str, at: str, *, money: str | None = None,
    fields: dict[str, str | int | None] | None = None, payable: bool | None = None,
) -> bool:  # fmt: skip
    """Move `w` to `target` if its status is still one of `sources`, setting `fields` (None removes one); with
    `money` ("paid" or "return") the wallet entry that moves the money is written in the same transaction;
    `payable` puts it in (True) or takes it out of (False) the paying schedule's index. False when the
    withdrawal was not in a source status (someone else moved it first)."""
    table = _table()
    names = {"#s": "status"}
    values: dict[str, Any] = {
        ":t": _s(target),
        ":at": _s(at),
        ":g": _s(keys.withdrawals_by_status_gsi1pk(w.tid, target)),
    }
    sets = ["#s = :t", "updated_at = :at", "GSI1PK = :g"]
    removes: list[str] = []
    if payable:
        values[":p"] = _s(keys.WITHDRAWALS_PAYABLE_GSI2PK)
        values[":ps"] = _s(keys.withdrawals_payable_gsi2sk(w.created_at, w.tid, w.wid))
        sets += ["GSI2PK = :p", "GSI2SK = :ps"]
    elif payable is False:
        removes += ["GSI2PK", "GSI2SK"]
    for i, (name, value) in enumerate((fields or {}).items()):
        names[f"#f{i}"] = name
        if value is None:
            removes.append(f"#f{i}")
        else:
            values[f":f{i}"] = _n(value) if isinstance(value, int) else _s(value)
            sets.append(f"#f{i} = :f{i}")
    allowed = sorted(sources)
    for i, status in enumerate(allowed):
        values[f":s{i}"] = _s(status)
    expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
    update = {
        "TableName": table, "Key": {"PK": _s(keys.withdrawal_pk(w.tid, w.wid)), "SK": _s(keys.META)},
        "UpdateExpression": expression,
        "ConditionExpression": "#s IN (" + ", ".join(f":s{i}" for i in range(len(allowed))) + ")",
        "ExpressionAttributeNames": names, "ExpressionAttributeValues": values,
    }  # fmt: skip
    ops: list[dict[str, Any]] = [{"Update": update}]
    if money is not None:
        suffix = PAID_SUFFIX if money == "paid" else RETURN_SUFFIX
        entry = {
            "PK": _s(keys.wallet_pk(w.tid, w.uid)), "SK": _s(keys.wallet_withdrawal_sk(w.wid, suffix)),
            "entity": _s("wallet_entry"), "tid": _s(w.tid), "uid": _s(w.uid), "amount_fen": _n(w.amount_fen),
            "created_at": _s(at), "cid": _s(w.cid),
        }  # fmt: skip
        ops.append({"Put": {"TableName": table, "Item": entry, "ConditionExpression": "attribute_not_exists(PK)"}})
    try:
        with unavailable_on_failure("withdrawal status"):
            dynamodb_client().transact_write_items(TransactItems=ops)
    except ClientError as exc:
        reasons = cancel_codes(exc)
        if reasons and "ConditionalCheckFailed" in reasons:
            return False
        raise
    return True


def annotate(
    w: WithdrawalRecord, status: str, at: str, fields: dict[str, str | int], *, add_flags: Iterable[str] = ()
) -> bool:
    """Set `fields` on `w` while it is still in `status` (a reason, a submission time, the provider's id), and
    add `add_flags` to its flags."""
    names = {"#s": "status", **{f"#f{i}": name for i, name in enumerate(fields)}}
    values: dict[str, Any] = {":s": _s(status), ":at": _s(at)}
    for i, value in enumerate(fields.values()):
        values[f":f{i}"] = _n(value) if isinstance(value, int) else _s(value)
    expression = "SET updated_at = :at" + "".join(f", #f{i} = :f{i}" for i in range(len(fields)))
    flags = sorted(set(add_flags))
    if flags:
        values[":flags"] = {"SS": flags}
        expression += " ADD flags :flags"
    try:
        with unavailable_on_failure("withdrawal"):
            dynamodb_client().update_item(
                TableName=_table(), Key={"PK": _s(keys.withdrawal_pk(w.tid, w.wid)), "SK": _s(keys.META)},
                UpdateExpression=expression, ConditionExpression="#s = :s", ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )  # fmt: skip
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def forget_destination(w: WithdrawalRecord, at: str) -> bool:
    """Drop the sealed destination and name of a settled withdrawal (an erasure); the money fields stay. False
    when it is not in the status it was read in, or already forgotten."""
    try:
        with unavailable_on_failure("withdrawal"):
            dynamodb_client().update_item(
                TableName=_table(), Key={"PK": _s(keys.withdrawal_pk(w.tid, w.wid)), "SK": _s(keys.META)},
                UpdateExpression="REMOVE destination_enc, name_enc, destination_index"
                " SET updated_at = :at, destination_erased_at = :at",
                ConditionExpression="#s = :s AND attribute_exists(destination_enc)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": _s(w.status), ":at": _s(at)},
            )  # fmt: skip
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def payable(limit: int = 1000) -> list[WithdrawalRecord]:
    """The withdrawals waiting for a provider (approved or paying), across tenants, oldest first, every page up
    to `limit` (GSI2): ones waiting long on a provider never hide newer ones behind a page boundary."""
    request: dict[str, Any] = {
        "TableName": _table(), "IndexName": "GSI2", "KeyConditionExpression": "GSI2PK = :pk",
        "ExpressionAttributeValues": {":pk": _s(keys.WITHDRAWALS_PAYABLE_GSI2PK)},
    }  # fmt: skip
    found: list[WithdrawalRecord] = []
    while len(found) < limit:
        with unavailable_on_failure("payable withdrawals"):
            page = dynamodb_client().query(**request)
        found += [_record(i) for i in page.get("Items", [])]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return found[:limit]
