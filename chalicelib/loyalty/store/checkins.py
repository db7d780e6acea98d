"""Check-ins (`T#{tid}#CHK#{uid}`): a day item `D#{date}` per covered local day, written once, and a month item
`M#{month}` counting the make-up cards used; the tenant's programme beside the tenant (`T#{tid}` / `CHECKINS`).

A check-in is one transaction of its day item (`attribute_not_exists`) and its points entry in the ledger: so
however often, and however concurrently, a day is sent, one day item and one credit are written. A make-up is one
transaction of its day item and the month's counter (`used < limit`): parallel make-ups cannot pass the limit.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from enum import Enum
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.loyalty.rules.checkins import CheckinCoupon, CheckinDay
from chalicelib.loyalty.rules.points import PointsEntry
from chalicelib.loyalty.store import documents
from chalicelib.loyalty.store.ledger import entry_item
from chalicelib.table import keys
from chalicelib.table.db import (
    cancel_codes,
    delete_partition,
    dynamodb_client,
    ensure_bound,
    query_all,
    unavailable_on_failure,
)

_FAILED = "ConditionalCheckFailed"


def _table() -> str:
    return ensure_bound().table_name


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _day_key(tid: str, uid: str, day: date) -> dict[str, Any]:
    return {"PK": _s(keys.checkins_pk(tid, uid)), "SK": _s(keys.checkin_day_sk(day.isoformat()))}


def _record(item: dict[str, Any]) -> CheckinDay:
    coupon = None
    if "coupon_name" in item:
        coupon = CheckinCoupon(
            name=item["coupon_name"]["S"], value_fen=int(item.get("coupon_value_fen", {"N": 0})["N"])
        )
    return CheckinDay(
        day=date.fromisoformat(item["date"]["S"]), made_up=item["made_up"]["BOOL"], streak=int(item["streak"]["N"]),
        points=int(item["points"]["N"]), created_at=item["created_at"]["S"], cid=item["cid"]["S"], coupon=coupon,
    )  # fmt: skip


def day_item(tid: str, uid: str, code: str, rec: CheckinDay) -> dict[str, Any]:
    """The low-level item of a covered day; the stream shows it to other slices as `table.images.CheckinImage`."""
    item = {
        **_day_key(tid, uid, rec.day), "entity": _s("checkin"), "tid": _s(tid), "uid": _s(uid), "cid": _s(rec.cid),
        "code": _s(code), "date": _s(rec.day.isoformat()), "made_up": {"BOOL": rec.made_up},
        "streak": _n(rec.streak), "points": _n(rec.points), "created_at": _s(rec.created_at),
    }  # fmt: skip
    if rec.coupon is not None:
        item["coupon_name"], item["coupon_value_fen"] = _s(rec.coupon.name), _n(rec.coupon.value_fen)
    return item


@dataclass(frozen=True)
class History:
    """A person's check-ins read whole: every covered day, oldest first, and the make-up cards used per month."""

    days: list[CheckinDay]
    cards_used: dict[str, int]


def history(tid: str, uid: str) -> History:
    days, used = [], {}
    for item in query_all("check-ins", ConsistentRead=True, KeyConditionExpression="PK = :pk",
                          ExpressionAttributeValues={":pk": _s(keys.checkins_pk(tid, uid))}):  # fmt: skip
        sk = item["SK"]["S"]
        if sk.startswith(keys.CHECKIN_DAY_PREFIX):
            days.append(_record(item))
        elif sk.startswith(keys.CHECKIN_MONTH_PREFIX):
            used[sk.removeprefix(keys.CHECKIN_MONTH_PREFIX)] = int(item["used"]["N"])
    return History(days, used)


def forget(tid: str, uid: str) -> int:
    """Data-subject erasure: every day and month item of the person goes; how many there were."""
    return delete_partition("forget check-ins", keys.checkins_pk(tid, uid))


def day(tid: str, uid: str, on: date) -> CheckinDay | None:
    with unavailable_on_failure("check-in"):
        found = dynamodb_client().get_item(TableName=_table(), Key=_day_key(tid, uid, on), ConsistentRead=True)
    item = found.get("Item")
    return _record(item) if item else None


def check_in(tid: str, uid: str, code: str, rec: CheckinDay, credit: PointsEntry | None) -> CheckinDay | None:
    """Write the day and its points, both or neither; the day written, None when the day was covered before (a
    repeat, or a concurrent request that won)."""
    table = _table()
    ops: list[dict[str, Any]] = [
        {
            "Put": {
                "TableName": table,
                "Item": day_item(tid, uid, code, rec),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
    ]
    if credit is not None:
        ops.append({"Put": {"TableName": table, "Item": entry_item(tid, uid, credit),
                            "ConditionExpression": "attribute_not_exists(PK)"}})  # fmt: skip
    try:
        with unavailable_on_failure("check-in"):
            dynamodb_client().transact_write_items(TransactItems=ops)
    except ClientError as exc:
        reasons = cancel_codes(exc)
        if reasons is None:
            raise
        if reasons and reasons[0] == _FAILED:
            return None
        if "TransactionConflict" in reasons:
            return None  # a concurrent check-in of the same day is being written: the caller reads it
        if credit is not None and len(reasons) > 1 and reasons[1] == _FAILED:
            # The day's points were credited before its day item was erased (a person who came back the same
            # day, docs/privacy.md): the ledger keeps one credit per day, so the day is covered without points.
            return check_in(tid, uid, code, replace(rec, points=0, coupon=None), None)
        raise
    return rec


class MadeUp(Enum):
    CREATED = "created"
    EXISTS = "exists"  # the day was covered before
    LIMIT = "limit"  # the month's cards are used up
    CONFLICT = "conflict"  # another make-up moved the counter meanwhile: try again


def make_up(tid: str, uid: str, code: str, rec: CheckinDay, limit: int) -> MadeUp:
    """Cover a past day with one of the month's `limit` cards, the card counted in the same transaction."""
    table = _table()
    month = rec.day.isoformat()[:7]
    counter = {
        "TableName": table,
        "Key": {"PK": _s(keys.checkins_pk(tid, uid)), "SK": _s(keys.checkin_month_sk(month))},
        "UpdateExpression": "SET used = if_not_exists(used, :zero) + :one, entity = :e, updated_at = :at",
        "ConditionExpression": "attribute_not_exists(used) OR used < :limit",
        "ExpressionAttributeValues": {":zero": _n(0), ":one": _n(1), ":limit": _n(limit),
                                      ":e": _s("checkin_cards"), ":at": _s(rec.created_at)},
    }  # fmt: skip
    ops = [
        {
            "Put": {
                "TableName": table,
                "Item": day_item(tid, uid, code, rec),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        },
        {"Update": counter},
    ]
    try:
        with unavailable_on_failure("make-up"):
            dynamodb_client().transact_write_items(TransactItems=ops)
    except ClientError as exc:
        reasons = cancel_codes(exc)
        if reasons is None:
            raise
        if reasons[0] == _FAILED:
            return MadeUp.EXISTS
        if len(reasons) > 1 and reasons[1] == _FAILED:
            return MadeUp.LIMIT
        if "TransactionConflict" in reasons:
            return MadeUp.CONFLICT
        raise
    return MadeUp.CREATED


# --- the programme -----------------------------------------------------------------------------------------------


def settings(tid: str) -> tuple[str, int] | None:
    """The stored programme document and its version; None when the tenant never set one."""
    return documents.read(tid, keys.CHECKIN_SETTINGS_SK, "check-in settings")


def put_settings(tid: str, document: str, read_version: int, at: str, by: str) -> int:
    """Replace the programme if it is still at `read_version` (0: none yet); the new version."""
    return documents.put(tid, keys.CHECKIN_SETTINGS_SK, "checkin_settings", "check-in settings", document,
                         read_version, at, by)  # fmt: skip
