"""Participants found by key: a campaign's (16 GSI1 shards), an inviter's children (GSI2), one participant's partition.

Read with the low-level client, one query page at a time, so a caller bounds its reads exactly and
resumes from DynamoDB's `LastEvaluatedKey`. Items are read as plain dicts (the partition also
holds entries that have no model: ledger mirrors) and handed out as typed records; the cursors
that resume a listing are encoded and checked here, so callers pass them on as opaque strings.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, fields
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.core.codes import Code
from chalicelib.core.errors import BadRequest
from chalicelib.referral.rules.records import ParticipantPage, RewardRecord, TreeNode, TreePage
from chalicelib.table import keys
from chalicelib.table.db import dynamodb_client, ensure_bound, unavailable_on_failure

Key = dict[str, Any]


@dataclass(frozen=True)
class _IndexPage:
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


def _plain_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _plain(value) for name, value in item.items()}


def _text(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name)
    return None if value is None else str(value)


def _int(item: dict[str, Any], name: str) -> int | None:
    value = item.get(name)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _node(item: dict[str, Any]) -> TreeNode:
    return TreeNode(
        code=str(item["code"]),
        joined_at=_text(item, "joined_at"),
        nickname=_text(item, "nickname"),
        channel=_text(item, "channel"),
        inviter=_text(item, "inviter"),
        qualified_at=_text(item, "qualified_at"),
        variant=_text(item, "variant"),
        depth=_int(item, "depth"),
        counted=frozenset(item.get("counted") or ()),
    )


_REWARD_FIELDS = tuple(f.name for f in fields(RewardRecord))
_REWARD_NUMBERS = ("value_fen", "points", "budget_fen", "cost_fen")


def _reward(item: dict[str, Any]) -> RewardRecord:
    values: dict[str, Any] = {name: item.get(name) for name in _REWARD_FIELDS}
    for name in _REWARD_NUMBERS:
        values[name] = _int(item, name)
    return RewardRecord(**values)


# --- cursors ------------------------------------------------------------------------------------


def _invalid_cursor() -> BadRequest:
    return BadRequest("the cursor is not one this listing returned", code=Code.INVALID_CURSOR)


def _encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    """The state inside an opaque cursor; 400 INVALID_CURSOR for anything that is not one of ours."""
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise _invalid_cursor() from None
    if not isinstance(state, dict):
        raise _invalid_cursor()
    return state


def _checked_key(key: Any, index: str, expected_pk: str) -> Key | None:
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
        raise _invalid_cursor()
    return key  # type: ignore[no-any-return]


def _key_of(item: dict[str, Any], index: str) -> Key:
    """The start key that resumes an `index` query right after `item`."""
    return {name: {"S": str(item[name])} for name in ("PK", "SK", f"{index}PK", f"{index}SK")}


# --- queries ------------------------------------------------------------------------------------


def _query(what: str, **request: Any) -> _IndexPage:
    table = ensure_bound().table_name
    try:
        with unavailable_on_failure(what):
            answer = dynamodb_client().query(TableName=table, **request)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ValidationException" and "ExclusiveStartKey" in request:
            raise _invalid_cursor() from exc
        raise
    return _IndexPage([_plain_item(i) for i in answer.get("Items", [])], answer.get("LastEvaluatedKey"))


def _index_query(index: str, pk: str, start: Key | None, limit: int, roots_only: bool) -> _IndexPage:
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


def _campaign_page(cid: str, shard: int, start: Key | None, limit: int, *, roots_only: bool = False) -> _IndexPage:
    """One query page of a campaign's participants in one shard, oldest join first.

    With `roots_only`, participants with an inviter are filtered out (they still count toward `limit`)."""
    return _index_query("GSI1", keys.campaign_participants_gsi1pk(cid, shard), start, limit, roots_only)


def roots(cid: str, cursor: str | None, limit: int, max_queries: int) -> TreePage:
    """Up to `limit` of a campaign's participants nobody invited, shard after shard, from `cursor`.

    Reads at most `max_queries` query pages and hands back a cursor even when it found fewer than
    `limit`; the cursor is None once every shard is read. 400 INVALID_CURSOR for a cursor that is
    not one of this campaign's."""
    shard, start = 0, None
    if cursor is not None:
        state = _decode_cursor(cursor)
        given = state.get("s")
        if (
            state.get("c") != cid
            or not isinstance(given, int)
            or isinstance(given, bool)
            or not 0 <= given < keys.PARTICIPANT_SHARDS
        ):
            raise _invalid_cursor()
        shard = given
        start = _checked_key(state.get("k"), "GSI1", keys.campaign_participants_gsi1pk(cid, shard))
    found: list[TreeNode] = []
    queries = 0
    while len(found) < limit and shard < keys.PARTICIPANT_SHARDS and queries < max_queries:
        page = _campaign_page(cid, shard, start, limit - len(found), roots_only=True)
        queries += 1
        found += [_node(item) for item in page.items]
        if page.last_key is None:
            shard, start = shard + 1, None
        else:
            start = page.last_key
    if shard >= keys.PARTICIPANT_SHARDS:
        return TreePage(found, more=False, cursor=None)
    return TreePage(found, more=True, cursor=_encode_cursor({"c": cid, "s": shard, "k": start}))


def children(code: str, cursor: str | None, limit: int) -> TreePage:
    """Up to `limit` of the participants `code` invited, oldest join first, from `cursor` (one query).

    The page's cursor reads on after its last node. 400 INVALID_CURSOR for a cursor that is not
    one of `code`'s children."""
    start = None
    if cursor is not None:
        start = _checked_key(_decode_cursor(cursor).get("k"), "GSI2", keys.children_gsi2pk(code))
        if start is None:
            raise _invalid_cursor()
    # One more than fits tells "more children" from "exactly this many" without another read.
    page = _index_query("GSI2", keys.children_gsi2pk(code), start, limit + 1, False)
    kept = page.items[:limit]
    more = len(page.items) > limit or page.last_key is not None
    following = _encode_cursor({"k": _key_of(kept[-1], "GSI2")}) if more and kept else None
    return TreePage([_node(item) for item in kept], more=more, cursor=following)


def campaign_participants(cid: str, position: dict[str, Any] | None, limit: int) -> ParticipantPage | None:
    """One query page (at most `limit`) of a campaign's participants, from `position` (None: the
    first shard's start); None once `position` is past the last shard (nothing read)."""
    at = position or {"shard": 0, "key": None}
    shard = int(at["shard"])
    if shard >= keys.PARTICIPANT_SHARDS:
        return None
    page = _campaign_page(cid, shard, at.get("key"), limit)
    found = [_node(item) for item in page.items if item.get("entity") == "participant"]
    following = {"shard": shard, "key": page.last_key} if page.last_key else {"shard": shard + 1, "key": None}
    return ParticipantPage(found, following)


def participant(cid: str, code: str) -> TreeNode | None:
    """The participant `code` of campaign `cid`; None when there is none (or it is another campaign's)."""
    table = ensure_bound().table_name
    with unavailable_on_failure("get participant"):
        found = dynamodb_client().get_item(
            TableName=table, Key={"PK": {"S": keys.participant_pk(code)}, "SK": {"S": keys.META}}
        )
    raw = found.get("Item")
    if not raw or raw.get("entity", {}).get("S") != "participant":
        return None
    item = _plain_item(raw)
    return _node(item) if item.get("cid") == cid else None


def _partition(code: str, sk_prefix: str) -> list[dict[str, Any]]:
    """The items under `P#{code}` whose sort key starts with `sk_prefix`, all pages."""
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


def rewards(code: str) -> list[RewardRecord]:
    """A participant's rewards, in rule order (every page of their partition's rewards)."""
    return [_reward(item) for item in _partition(code, keys.REWARD_PREFIX) if item.get("entity") == "reward"]
