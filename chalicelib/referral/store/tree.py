"""Participants found by key: a campaign's (16 GSI1 shards), an inviter's children (GSI2), one participant's partition.

Read with the low-level client, one query page at a time, so a caller bounds its reads exactly and
resumes from DynamoDB's `LastEvaluatedKey`. Items come back as plain dicts (strings, ints, sets):
the partition also holds entries that have no model (ledger mirrors).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.errors import BadRequest
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, unavailable_on_failure

Key = dict[str, Any]


@dataclass(frozen=True)
class IndexPage:
    items: list[dict[str, Any]]
    last_key: Key | None  # None once the partition is exhausted


def _plain(value: dict[str, Any]) -> Any:
    ((kind, raw),) = value.items()
    if kind == "N":
        number = float(raw)
        return int(number) if number.is_integer() else number
    if kind in ("SS", "BS"):
        return set(raw)
    if kind == "NS":
        return {_plain({"N": n}) for n in raw}
    if kind == "NULL":
        return None
    if kind == "L":
        return [_plain(v) for v in raw]
    if kind == "M":
        return {k: _plain(v) for k, v in raw.items()}
    return raw  # S, BOOL, B


def plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(value) for name, value in item.items()}


def invalid_cursor() -> BadRequest:
    return BadRequest("the cursor is not one this listing returned", code="INVALID_CURSOR")


def encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    """The state inside an opaque cursor; 400 INVALID_CURSOR for anything that is not one of ours."""
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise invalid_cursor() from None
    if not isinstance(state, dict):
        raise invalid_cursor()
    return state


def checked_key(key: Any, index: str, expected_pk: str) -> Key | None:
    """A start key from a cursor, if it is a key of the `index` partition `expected_pk`."""
    if key is None:
        return None
    names = {"PK", "SK", f"{index}PK", f"{index}SK"}
    valid = (
        isinstance(key, dict)
        and set(key) == names
        and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
        and key[f"{index}PK"] == {"S": expected_pk}
    )
    if not valid:
        raise invalid_cursor()
    return key  # type: ignore[no-any-return]


def key_of(item: dict[str, Any], index: str) -> Key:
    """The start key that resumes an `index` query right after `item`."""
    return {name: {"S": str(item[name])} for name in ("PK", "SK", f"{index}PK", f"{index}SK")}


def _query(what: str, **request: Any) -> IndexPage:
    table = ensure_bound().table_name
    try:
        with unavailable_on_failure(what):
            answer = dynamodb_client().query(TableName=table, **request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException" and "ExclusiveStartKey" in request:
            raise invalid_cursor() from exc
        raise
    return IndexPage([plain(i) for i in answer.get("Items", [])], answer.get("LastEvaluatedKey"))


def _index_query(index: str, pk: str, start: Key | None, limit: int, roots_only: bool) -> IndexPage:
    request: dict[str, Any] = {
        "IndexName": index,
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": {"#pk": f"{index}PK"},
        "ExpressionAttributeValues": {":pk": {"S": pk}},
        "Limit": limit,
    }
    if start is not None:
        request["ExclusiveStartKey"] = start
    if roots_only:
        request["FilterExpression"] = "attribute_not_exists(inviter)"
    return _query(f"{index} participants", **request)


def campaign_page(cid: str, shard: int, start: Key | None, limit: int, *, roots_only: bool = False) -> IndexPage:
    """One query page of a campaign's participants in one shard, oldest join first.

    With `roots_only`, participants with an inviter are filtered out (they still count toward `limit`)."""
    return _index_query("GSI1", keys.campaign_participants_gsi1pk(cid, shard), start, limit, roots_only)


def children_page(code: str, start: Key | None, limit: int) -> IndexPage:
    """One query page of the participants `code` invited, oldest join first."""
    return _index_query("GSI2", keys.children_gsi2pk(code), start, limit, False)


def participant(code: str) -> dict[str, Any] | None:
    table = ensure_bound().table_name
    with unavailable_on_failure("get participant"):
        found = dynamodb_client().get_item(
            TableName=table, Key={"PK": {"S": keys.participant_pk(code)}, "SK": {"S": keys.META}}
        )
    item = found.get("Item")
    return plain(item) if item and item.get("entity", {}).get("S") == "participant" else None


def partition(code: str, sk_prefix: str) -> list[dict[str, Any]]:
    """The items under `P#{code}` whose sort key starts with `sk_prefix` (rewards, ledger entries), all pages."""
    found: list[dict[str, Any]] = []
    start: Key | None = None
    while True:
        request: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
            "ExpressionAttributeValues": {":pk": {"S": keys.participant_pk(code)}, ":sk": {"S": sk_prefix}},
        }
        if start is not None:
            request["ExclusiveStartKey"] = start
        page = _query("participant partition", **request)
        found += page.items
        if page.last_key is None:
            return found
        start = page.last_key
