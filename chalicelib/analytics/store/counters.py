"""Analytics day counters, beacon facts and the stream's data-quality readings (docs/analytics.md).

Counter attributes are named by data (metric, channel, variant), which PynamoDB models cannot
express, so these items are written with the low-level client.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.clock import iso
from chalicelib.core.ids import new_id
from chalicelib.table import keys
from chalicelib.table.db import cancel_codes, dynamodb_client, ensure_bound, unavailable_on_failure

SHARDS = 8
MARKER_RETENTION_SECONDS = 2 * 24 * 3600  # longer than the stream keeps records (24 h)
BEACON_RETENTION_SECONDS = 90 * 24 * 3600
MAX_COUNTERS_PER_UPDATE = 150  # an update expression is at most 4 KB
BATCH_GET = 100


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def put_beacon(cid: str, kind: str, channel: str | None, name: str | None, code: str | None, at: datetime) -> None:
    """One fact per beacon under its own key: no counter is touched on the request path."""
    table = ensure_bound().table_name
    item = {
        "PK": _s(keys.beacon_pk(new_id("ev"))), "SK": _s(keys.META), "entity": _s("beacon"), "cid": _s(cid),
        "type": _s(kind), "at": _s(iso(at)), "expires_at": _n(int(at.timestamp()) + BEACON_RETENTION_SECONDS),
    }  # fmt: skip
    for field, value in (("channel", channel), ("name", name), ("code", code)):
        if value:
            item[field] = _s(value)
    with unavailable_on_failure("record event"):
        dynamodb_client().put_item(TableName=table, Item=item)


def apply(cid: str, day: str, shard: int, deltas: Mapping[str, int], fingerprint: str, now: datetime) -> bool:
    """Add `deltas` to the (campaign, day, shard) counters once: a marker keyed by `fingerprint` is written
    in the same transaction, so a redelivered batch adds nothing. False when it was applied before."""
    table = ensure_bound().table_name
    names = {f"#c{i}": name for i, name in enumerate(deltas)}
    values: dict[str, Any] = {f":c{i}": _n(amount) for i, amount in enumerate(deltas.values())}
    values.update({":cid": _s(cid), ":day": _s(day), ":entity": _s("counter_day")})
    adds = ", ".join(f"#c{i} :c{i}" for i in range(len(deltas)))
    update = {
        "TableName": table,
        "Key": {"PK": _s(keys.counter_day_pk(cid, day)), "SK": _s(keys.counter_shard_sk(shard))},
        "UpdateExpression": f"SET cid = :cid, #day = :day, entity = :entity ADD {adds}",
        "ExpressionAttributeNames": {**names, "#day": "day"},
        "ExpressionAttributeValues": values,
    }
    marker = {
        "PK": _s(keys.counter_day_pk(cid, day)), "SK": _s(keys.counter_marker_sk(fingerprint)),
        "expires_at": _n(int(now.timestamp()) + MARKER_RETENTION_SECONDS),
    }  # fmt: skip
    try:
        with unavailable_on_failure("count"):
            dynamodb_client().transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": marker, "ConditionExpression": "attribute_not_exists(PK)"}},
                    {"Update": update},
                ]
            )
    except ClientError as exc:
        reasons = cancel_codes(exc)
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False
        raise
    return True


def add_now(cid: str, day: str, counter: str, amount: int = 1) -> None:
    """A plain increment outside the stream (invalid beacons, which are counted but never stored)."""
    table = ensure_bound().table_name
    shard = time.monotonic_ns() % SHARDS
    with unavailable_on_failure("count"):
        dynamodb_client().update_item(
            TableName=table,
            Key={"PK": _s(keys.counter_day_pk(cid, day)), "SK": _s(keys.counter_shard_sk(shard))},
            UpdateExpression="SET cid = :cid, #day = :day, entity = :entity ADD #c :n",
            ExpressionAttributeNames={"#c": counter, "#day": "day"},
            ExpressionAttributeValues={
                ":cid": _s(cid),
                ":day": _s(day),
                ":entity": _s("counter_day"),
                ":n": _n(amount),
            },
        )


def read_days(cid: str, days: Iterable[str]) -> tuple[dict[str, dict[str, int]], int]:
    """Counters of each day, summed over the shards, and how many read requests that took (bounded by
    the number of days: `days x 8` keys, 100 per request)."""
    table = ensure_bound().table_name
    wanted = [(day, shard) for day in days for shard in range(SHARDS)]
    totals: dict[str, dict[str, int]] = {}
    requests = 0
    client = dynamodb_client()
    for start in range(0, len(wanted), BATCH_GET):
        pending: list[dict[str, Any]] = [
            {"PK": _s(keys.counter_day_pk(cid, day)), "SK": _s(keys.counter_shard_sk(shard))}
            for day, shard in wanted[start : start + BATCH_GET]
        ]
        while pending:
            requests += 1
            with unavailable_on_failure("read counters"):
                answer = client.batch_get_item(RequestItems={table: {"Keys": pending, "ConsistentRead": True}})
            for item in answer.get("Responses", {}).get(table, []):
                day_totals = totals.setdefault(item["day"]["S"], {})
                for name, value in item.items():
                    if "N" in value and (name.startswith("n|") or name.startswith("h|")):
                        day_totals[name] = day_totals.get(name, 0) + int(value["N"])
            pending = answer.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
    return totals, requests


def record_stream_lag(lag_seconds: float, at: datetime) -> None:
    """The age of the oldest record in the latest stream batch: how far analytics trails the facts."""
    table = ensure_bound().table_name
    with unavailable_on_failure("stream lag"):
        dynamodb_client().put_item(
            TableName=table,
            Item={
                "PK": _s(keys.system_pk("stream")), "SK": _s(keys.META), "lag_seconds": {"N": f"{lag_seconds:.3f}"},
                "observed_at": _s(iso(at)),
            },
        )  # fmt: skip


def stream_lag() -> tuple[float, str] | None:
    table = ensure_bound().table_name
    with unavailable_on_failure("stream lag"):
        found = (
            dynamodb_client()
            .get_item(TableName=table, Key={"PK": _s(keys.system_pk("stream")), "SK": _s(keys.META)})
            .get("Item")
        )
    return (float(found["lag_seconds"]["N"]), found["observed_at"]["S"]) if found else None
