"""Membership tiers: the tenant's ladder (`T#{tid}` / `TIERS`), each person's standing (`T#{tid}#TIER#{uid}` /
`STATE`) and the facts their measure sums (`F#order#{oid}`, `F#invite#{code}`), with the low-level client.

The standing is replaced under an optimistic `version`. While a tier is held it sits in GSI2 under the time of its
next review (`TIERDUE#{shard}`), so the daily job finds who is due by key. Its `at_least` string set (the tier held
and every tier below) and `tier_name` are what the referral slice reads for a campaign's `min_tier` and the
participant's view (referral/store/tiers.py): one documented item, no import of this slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.loyalty.rules.tiers import Fact
from chalicelib.loyalty.store import documents
from chalicelib.table import keys
from chalicelib.table.db import delete_partition, dynamodb_client, ensure_bound, query_all, unavailable_on_failure

REVIEW_SHARDS = keys.TIER_REVIEW_SHARDS


def _table() -> str:
    return ensure_bound().table_name


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _failed_condition(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


# --- the ladder ------------------------------------------------------------------------------------------------


def rules(tid: str) -> tuple[str, int] | None:
    """The stored ladder (JSON) and its version; None when the tenant never set one."""
    return documents.read(tid, keys.LOYALTY_TIERS_SK, "tier rules")


def put_rules(tid: str, document: str, read_version: int, at: str, by: str) -> int:
    """Replace the ladder if it is still at `read_version` (0: none yet); the new version."""
    return documents.put(tid, keys.LOYALTY_TIERS_SK, "loyalty_tiers", "tier rules", document, read_version, at, by)


# --- a person's standing ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierState:
    """A person's standing as stored; version 0 when nothing is stored yet."""

    tid: str
    uid: str
    tier: str | None = None
    tier_name: str | None = None
    rank: int = 0
    at_least: tuple[str, ...] = ()
    previous: str | None = None
    since: str | None = None  # when the tier held was reached
    below_since: str | None = None  # since when the daily review finds the measure below the tier's threshold
    changed_at: str | None = None
    value: int = 0  # the measure at the last evaluation
    review_at: str | None = None  # the next daily review (while a tier is held)
    version: int = 0


def _state_key(tid: str, uid: str) -> dict[str, Any]:
    return {"PK": _s(keys.tier_pk(tid, uid)), "SK": _s(keys.TIER_STATE_SK)}


def state(tid: str, uid: str) -> TierState:
    with unavailable_on_failure("tier"):
        found = dynamodb_client().get_item(TableName=_table(), Key=_state_key(tid, uid), ConsistentRead=True)
    item = found.get("Item")
    if not item:
        return TierState(tid=tid, uid=uid)
    return _state(item)


def _state(item: dict[str, Any]) -> TierState:
    text = {name: value["S"] for name, value in item.items() if "S" in value}
    return TierState(
        tid=text["tid"], uid=text["uid"], tier=text.get("tier"), tier_name=text.get("tier_name"),
        rank=int(item.get("rank", {}).get("N", 0)), at_least=tuple(sorted(item.get("at_least", {}).get("SS", ()))),
        previous=text.get("previous"), since=text.get("since"), below_since=text.get("below_since"),
        changed_at=text.get("changed_at"), value=int(item.get("value", {}).get("N", 0)),
        review_at=text.get("review_at"), version=int(item["version"]["N"]),
    )  # fmt: skip


def put_state(s: TierState) -> bool:
    """Write the standing at `s.version` if the stored one is still at `s.version - 1`; False when another writer
    was first (read again)."""
    item: dict[str, Any] = {
        **_state_key(s.tid, s.uid), "entity": _s("tier"), "tid": _s(s.tid), "uid": _s(s.uid), "rank": _n(s.rank),
        "value": _n(s.value), "version": _n(s.version),
    }  # fmt: skip
    for name in ("tier", "tier_name", "previous", "since", "below_since", "changed_at", "review_at"):
        value = getattr(s, name)
        if value is not None:
            item[name] = _s(value)
    if s.at_least:
        item["at_least"] = {"SS": list(s.at_least)}
    if s.tier is not None and s.review_at is not None:
        item["GSI2PK"] = _s(keys.tier_review_gsi2pk(keys.tier_review_shard(s.uid)))
        item["GSI2SK"] = _s(keys.tier_review_gsi2sk(s.review_at, s.tid, s.uid))
    condition: dict[str, Any] = {"ConditionExpression": "attribute_not_exists(PK)"}
    if s.version > 1:
        condition = {"ConditionExpression": "version = :v", "ExpressionAttributeValues": {":v": _n(s.version - 1)}}
    try:
        with unavailable_on_failure("tier"):
            dynamodb_client().put_item(TableName=_table(), Item=item, **condition)
    except ClientError as exc:
        if _failed_condition(exc):
            return False
        raise
    return True


def due(shard: int, until: str, limit: int) -> list[tuple[str, str]]:
    """(tenant, person) of the tier holders whose review is due by `until`, oldest first."""
    with unavailable_on_failure("tier reviews"):
        page = dynamodb_client().query(
            TableName=_table(), IndexName="GSI2", Limit=limit,
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK <= :until",
            ExpressionAttributeValues={":pk": _s(keys.tier_review_gsi2pk(shard)), ":until": _s(until + "~")},
        )  # fmt: skip
    return [(i["tid"]["S"], i["uid"]["S"]) for i in page.get("Items", [])]


# --- the facts a measure sums ----------------------------------------------------------------------------------


def put_fact(tid: str, uid: str, kind: str, key: str, fact: Fact, *, if_exists: bool = False) -> bool:
    """The fact's current value (an order's net amount, an invite), replacing what was there: a replay writes the
    same. With `if_exists`, only a fact already stored is replaced; False when there was none."""
    item = {
        "PK": _s(keys.tier_pk(tid, uid)), "SK": _s(keys.tier_fact_sk(kind, key)), "entity": _s("tier_fact"),
        "tid": _s(tid), "uid": _s(uid), "kind": _s(kind), "at": _s(fact.at), "amount": _n(fact.amount),
    }  # fmt: skip
    condition = {"ConditionExpression": "attribute_exists(PK)"} if if_exists else {}
    try:
        with unavailable_on_failure("tier fact"):
            dynamodb_client().put_item(TableName=_table(), Item=item, **condition)
    except ClientError as exc:
        if _failed_condition(exc):
            return False
        raise
    return True


def facts(tid: str, uid: str, kind: str, since: str) -> list[Fact]:
    """The person's facts of one kind dated after `since` (read whole: filtered, not keyed, by date)."""
    found = query_all(
        "tier facts", ConsistentRead=True, KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        FilterExpression="#at > :since", ExpressionAttributeNames={"#at": "at"},
        ExpressionAttributeValues={":pk": _s(keys.tier_pk(tid, uid)), ":p": _s(keys.tier_fact_sk(kind, "")),
                                   ":since": _s(since)},
    )  # fmt: skip
    return [Fact(i["at"]["S"], int(i["amount"]["N"])) for i in found]


def all_facts(tid: str, uid: str) -> list[tuple[str, str, Fact]]:
    """Every fact of the person (a data-subject export): (kind, key, fact), in key order."""
    found = query_all(
        "tier facts", ConsistentRead=True, KeyConditionExpression="PK = :pk AND begins_with(SK, :p)",
        ExpressionAttributeValues={":pk": _s(keys.tier_pk(tid, uid)), ":p": _s(keys.TIER_FACT_PREFIX)},
    )  # fmt: skip
    out = []
    for i in found:
        kind = i["kind"]["S"]
        key = i["SK"]["S"].removeprefix(keys.tier_fact_sk(kind, ""))
        out.append((kind, key, Fact(i["at"]["S"], int(i["amount"]["N"]))))
    return out


def forget(tid: str, uid: str) -> int:
    """Data-subject erasure: the standing (and with it its place in the review index) and every fact go; how many
    items there were."""
    return delete_partition("forget tier", keys.tier_pk(tid, uid))
