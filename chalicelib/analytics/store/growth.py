"""Growth counters per tenant (local day, ISO week cohort, month), the per-person markers that make each count
happen once, and the quarterly targets (docs/retention.md).

A claim's marker is put on condition that it does not exist, in the same transaction as the counters it adds:
a redelivered batch, or two batches racing for the same person, add nothing twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.analytics.rules.growth import START, TARGET_FIELDS, Claim
from chalicelib.core.clock import iso
from chalicelib.table import keys
from chalicelib.table.db import (
    cancel_codes,
    delete_partition,
    dynamodb_client,
    ensure_bound,
    query_all,
    unavailable_on_failure,
)

TRANSACTION_ITEMS = 100
BATCH_GET = 100
# Markers of an active day, week or month matter while facts of that period can still arrive.
PERIOD_MARKER_SECONDS = 400 * 24 * 3600
_PERIODIC = ("D|", "W|", "MO|")
_ITEM_SK = {"day": keys.growth_day_sk, "cohort": keys.growth_cohort_sk, "month": keys.growth_month_sk}

Person = tuple[str, str]  # (tenant, uid)


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _marker_key(person: Person, name: str) -> dict[str, Any]:
    return {"PK": _s(keys.growth_person_pk(*person)), "SK": _s(keys.growth_marker_sk(name))}


def _get(keys_: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    table = ensure_bound().table_name
    client, found = dynamodb_client(), []
    for first in range(0, len(keys_), BATCH_GET):
        pending = keys_[first : first + BATCH_GET]
        while pending:
            with unavailable_on_failure(what):
                answer = client.batch_get_item(RequestItems={table: {"Keys": pending, "ConsistentRead": True}})
            found += answer.get("Responses", {}).get(table, [])
            pending = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
    return found


def starts(people: Iterable[Person]) -> dict[Person, dict[str, str]]:
    """The recorded first join of each person who has one: its `at`, local `day` and `channel`."""
    wanted = sorted(set(people))
    found: dict[Person, dict[str, str]] = {}
    by_pk = {keys.growth_person_pk(*p): p for p in wanted}
    for item in _get([_marker_key(p, START) for p in wanted], "growth starts"):
        found[by_pk[item["PK"]["S"]]] = {name: item[name]["S"] for name in ("at", "day", "channel")}
    return found


def _marker(person: Person, claim: Claim, now: datetime) -> dict[str, Any]:
    item = {**_marker_key(person, claim.name), "entity": _s("growth_marker")}
    item.update({name: _s(value) for name, value in claim.fields.items()})
    if claim.name.startswith(_PERIODIC):
        item["expires_at"] = _n(int(now.timestamp()) + PERIOD_MARKER_SECONDS)
    return item


def _transaction(claims: list[tuple[Person, Claim]], now: datetime) -> list[dict[str, Any]]:
    """The markers (each on condition of its absence) and one update per counter item they add to."""
    table = ensure_bound().table_name
    items: list[dict[str, Any]] = [
        {"Put": {"TableName": table, "Item": _marker(p, c, now), "ConditionExpression": "attribute_not_exists(PK)"}}
        for p, c in claims
    ]
    adds: dict[tuple[str, str, str], dict[str, int]] = {}
    for (tid, _), claim in claims:
        for kind, key, name, amount in claim.adds:
            counters = adds.setdefault((tid, kind, key), {})
            counters[name] = counters.get(name, 0) + amount
    for (tid, kind, key), counters in adds.items():
        names = {f"#c{i}": name for i, name in enumerate(counters)}
        values = {f":c{i}": _n(amount) for i, amount in enumerate(counters.values())}
        items.append({"Update": {
            "TableName": table, "Key": {"PK": _s(keys.growth_pk(tid)), "SK": _s(_ITEM_SK[kind](key))},
            "UpdateExpression": "SET entity = :e, #k = :k ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
            "ExpressionAttributeNames": {**names, "#k": kind},
            "ExpressionAttributeValues": {**values, ":e": _s("growth_counter"), ":k": _s(key)},
        }})  # fmt: skip
    return items


def _size(claims: list[tuple[Person, Claim]]) -> int:
    items = {(tid, kind, key) for (tid, _), c in claims for kind, key, _, _ in c.adds}
    return len(claims) + len(items)


def _write(claims: list[tuple[Person, Claim]], now: datetime) -> bool:
    """True when written; False when a marker existed (nothing was written)."""
    try:
        with unavailable_on_failure("growth counters"):
            dynamodb_client().transact_write_items(TransactItems=_transaction(claims, now))
    except ClientError as exc:
        if "ConditionalCheckFailed" in (cancel_codes(exc) or []):
            return False
        raise
    return True


def claim(claims: list[tuple[Person, Claim]], now: datetime) -> int:
    """Write every claim not written before, several to a transaction; returns how many were new. A transaction
    that meets a marker written meanwhile (a racing batch) is redone one claim at a time."""
    unique: dict[tuple[Person, str], tuple[Person, Claim]] = {}
    for person, c in claims:
        unique.setdefault((person, c.name), (person, c))
    if not unique:
        return 0
    seen = {
        (item["PK"]["S"], item["SK"]["S"])
        for item in _get([_marker_key(p, c.name) for p, c in unique.values()], "growth markers")
    }
    fresh = [
        (p, c) for p, c in unique.values() if (keys.growth_person_pk(*p), keys.growth_marker_sk(c.name)) not in seen
    ]
    chunks: list[list[tuple[Person, Claim]]] = [[]]
    for entry in fresh:
        if chunks[-1] and _size([*chunks[-1], entry]) > TRANSACTION_ITEMS:
            chunks.append([])
        chunks[-1].append(entry)
    written = 0
    for chunk in chunks:
        if not chunk:
            continue
        if _write(chunk, now):
            written += len(chunk)
            continue
        written += sum(_write([entry], now) for entry in chunk)
    return written


def read(tid: str, kind: str, first: str, last: str) -> dict[str, dict[str, int]]:
    """Counter items of one kind (day, cohort, month) from key `first` to `last` inclusive: key -> counter ->
    amount."""
    first_sk, last_sk = _ITEM_SK[kind](first), _ITEM_SK[kind](last)
    found: dict[str, dict[str, int]] = {}
    items = query_all(
        "growth counters",
        KeyConditionExpression="PK = :pk AND SK BETWEEN :a AND :b",
        ExpressionAttributeValues={":pk": _s(keys.growth_pk(tid)), ":a": _s(first_sk), ":b": _s(last_sk)},
        ConsistentRead=True,
    )
    for item in items:
        key = item["SK"]["S"].partition("#")[2]
        found[key] = {name: int(value["N"]) for name, value in item.items() if "N" in value}
    return found


def targets(tid: str) -> list[dict[str, Any]]:
    items = query_all(
        "growth targets",
        KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues={":pk": _s(keys.growth_pk(tid)), ":p": _s(keys.GROWTH_TARGET_PREFIX)},
        ConsistentRead=True,
    )
    return [_target(item) for item in items]


def target(tid: str, quarter: str) -> dict[str, Any] | None:
    table = ensure_bound().table_name
    key = {"PK": _s(keys.growth_pk(tid)), "SK": _s(keys.growth_target_sk(quarter))}
    with unavailable_on_failure("growth target"):
        item = dynamodb_client().get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    return _target(item) if item else None


def _target(item: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = {"quarter": item["quarter"]["S"], "updated_at": item["updated_at"]["S"]}
    found.update({name: int(item[name]["N"]) if name in item else None for name in TARGET_FIELDS})
    return found


def put_target(tid: str, quarter: str, values: dict[str, int | None], now: datetime) -> dict[str, Any]:
    """Replace a quarter's targets (a target left out is no longer set)."""
    item = {
        "PK": _s(keys.growth_pk(tid)), "SK": _s(keys.growth_target_sk(quarter)), "entity": _s("growth_target"),
        "quarter": _s(quarter), "updated_at": _s(iso(now)),
    }  # fmt: skip
    item.update({name: _n(value) for name, value in values.items() if value is not None})
    with unavailable_on_failure("growth target"):
        dynamodb_client().put_item(TableName=ensure_bound().table_name, Item=item)
    return _target(item)


# The markers of when a person was active (day, ISO week, month): their activity calendar.
ACTIVITY_MARKERS = ("M#D|", "M#W|", "M#MO|")


def forget_activity(tid: str, uid: str) -> int:
    """Data-subject erasure: the person's activity calendar goes. Their start, funnel and reward markers stay: they
    name no day of activity, and a redelivered record must still find them so as not to count twice."""
    return delete_partition("growth markers", keys.growth_person_pk(tid, uid), ACTIVITY_MARKERS)
