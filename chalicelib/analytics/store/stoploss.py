"""A campaign's budget stop-loss lines and trips: one item beside the campaign, listed by key for the check."""

from __future__ import annotations

import json
import zlib
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.analytics.rules.stoploss import Line, StopLossRecord
from chalicelib.core.codes import Code
from chalicelib.core.errors import Conflict
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, query_all, unavailable_on_failure

SHARDS = keys.STOP_LOSS_SHARDS


def _key(cid: str) -> dict[str, Any]:
    return {"PK": {"S": keys.campaign_pk(cid)}, "SK": {"S": keys.STOP_LOSS_SK}}


def shard_of(cid: str) -> int:
    return zlib.crc32(cid.encode()) % SHARDS


def _record(item: dict[str, Any]) -> StopLossRecord:
    doc = json.loads(item["doc"]["S"])
    return StopLossRecord(
        cid=item["cid"]["S"], tid=item["tid"]["S"], lines=[Line.model_validate(raw) for raw in doc["lines"]],
        trips=doc.get("trips", {}), last_trips=doc.get("last_trips", {}), version=int(item["version"]["N"]),
        updated_at=item["updated_at"]["S"], updated_by=item["updated_by"]["S"],
    )  # fmt: skip


def get(cid: str) -> StopLossRecord | None:
    table = ensure_bound().table_name
    with unavailable_on_failure("read stop-loss lines"):
        found = dynamodb_client().get_item(TableName=table, Key=_key(cid), ConsistentRead=True).get("Item")
    return _record(found) if found else None


def save(rec: StopLossRecord, expected_version: int | None) -> None:
    """Write the record on top of the version read (None: it must not exist yet); Conflict otherwise."""
    table = ensure_bound().table_name
    doc = {
        "lines": [line.model_dump(mode="json") for line in rec.lines], "trips": rec.trips,
        "last_trips": rec.last_trips,
    }  # fmt: skip
    item = {
        **_key(rec.cid), "entity": {"S": "stop_loss"}, "cid": {"S": rec.cid}, "tid": {"S": rec.tid},
        "doc": {"S": json.dumps(doc, sort_keys=True)}, "version": {"N": str(rec.version)},
        "updated_at": {"S": rec.updated_at}, "updated_by": {"S": rec.updated_by},
        "GSI2PK": {"S": keys.stop_loss_gsi2pk(shard_of(rec.cid))}, "GSI2SK": {"S": rec.cid},
    }  # fmt: skip
    if expected_version is None:
        condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
    else:
        condition = {
            "ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": {"N": str(expected_version)}},
        }  # fmt: skip
    try:
        with unavailable_on_failure("save stop-loss lines"):
            dynamodb_client().put_item(TableName=table, Item=item, **condition)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            changed = "the stop-loss lines changed meanwhile; reload and retry"
            raise Conflict(changed, code=Code.CONCURRENT_UPDATE) from exc
        raise


def delete(cid: str) -> None:
    table = ensure_bound().table_name
    with unavailable_on_failure("delete stop-loss lines"):
        dynamodb_client().delete_item(TableName=table, Key=_key(cid))


def campaigns(shard: int) -> list[str]:
    """The campaigns with lines in one shard of the index."""
    found = query_all(
        "list stop-loss lines", IndexName="GSI2", KeyConditionExpression="GSI2PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.stop_loss_gsi2pk(shard)}}, ProjectionExpression="GSI2SK",
    )  # fmt: skip
    return [item["GSI2SK"]["S"] for item in found]
